"""SIGINT and SIGTERM while clients are mid-transfer: SIGINT cancels the server
cleanly (exit status 130, no crash report); SIGTERM ends it by its default action.
Either way it ends promptly, never by a crash (SIGSEGV/SIGABRT), and its clients
see the connection end instead of hanging."""
import signal, socket
from harness import Server, report, signal_mid_transfer

problems = []
details = []
for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
    srv = Server()
    rc, took, found = signal_mid_transfer(
        srv, sig, want, lambda i: socket.create_connection(("127.0.0.1", srv.port), timeout=15), 20, 65536)
    problems += found
    details.append(f"{sig.name} -> {rc} in {took:.2f} s")
report(None, problems, " 20 clients mid-transfer; " + ", ".join(details))

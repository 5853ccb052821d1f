"""SIGINT and SIGTERM while clients are mid-transfer: SIGINT cancels the server
cleanly (exit status 130, no crash report); SIGTERM ends it by its default action.
Either way it ends promptly, never by a crash (SIGSEGV/SIGABRT), and its clients
see the connection end instead of hanging."""
import signal, socket, threading, time
from harness import Server, pattern, report

problems = []
details = []
for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
    srv = Server()
    ended = [0]
    def client(i):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
            while True:
                s.sendall(pattern(65536, i))
                if not s.recv(65536):
                    break
        except OSError:
            pass
        ended[0] += 1
    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.time()
    srv.proc.send_signal(sig)
    try:
        rc = srv.proc.wait(10)
    except Exception:
        rc = None
        problems.append(f"{sig.name}: did not end within 10 s")
        srv.proc.kill()
    took = time.time() - t0
    for t in threads:
        t.join(20)
    if rc != want:
        problems.append(f"{sig.name}: exit status {rc}, expected {want}")
    if ended[0] != len(threads):
        problems.append(f"{sig.name}: {len(threads) - ended[0]} clients hung")
    err = srv.stop()
    if "Sanitizer" in err or "PANIC" in err or "Task Crash" in err:
        problems.append(f"{sig.name}: crash report on stderr")
    details.append(f"{sig.name} -> {rc} in {took:.2f} s")
report(None, problems, " 20 clients mid-transfer; " + ", ".join(details))

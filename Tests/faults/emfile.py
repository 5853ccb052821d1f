"""EMFILE: under `ulimit -n 64` more clients connect than the server has fds. The
server survives, does not spin while out of fds, and serves again once they close."""
import socket, time
from harness import Server, echo_once, pattern, raise_nofile, report

raise_nofile(4096)
srv = Server(nofile=64)
problems = []
held = []
for _ in range(150):
    try:
        held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=2))
    except OSError:
        break
time.sleep(0.5)
cpu0 = srv.cpu()
time.sleep(2)
spin = srv.cpu() - cpu0
if spin > 0.5:
    problems.append(f"spinning while out of fds: {spin:.2f} s CPU in 2 s")
if not srv.alive():
    problems.append("died at EMFILE")
for s in held:
    s.close()
time.sleep(0.5)
for i in range(20):
    try:
        data = pattern(30000, i)
        if echo_once(srv.port, data, timeout=10) != data:
            problems.append("an echo after EMFILE was corrupted")
            break
    except OSError as e:
        problems.append(f"not serving after EMFILE: {e}")
        break
report(srv, problems, f" {len(held)} clients against 64 fds; {spin:.2f} s CPU in 2 s while out of fds; served again")

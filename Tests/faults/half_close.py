"""A client sends, half-closes (SHUT_WR) and must still get every byte back, then EOF."""
from harness import FULL, Server, echo_once, pattern, report

srv = Server()
problems = []
n = 500 if FULL else 50
for i in range(n):
    data = pattern(1 + (i * 9973) % 300000, i)
    if echo_once(srv.port, data) != data:
        problems.append(f"client {i}: echo lost or corrupted after half-close")
        break
report(srv, problems, f" {n} half-closed clients got the whole echo and EOF")

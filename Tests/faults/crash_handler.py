"""A handler that raises: the server logs it, closes that client, serves the next."""
import socket
from harness import FULL, Server, echo_once, pattern, report

srv = Server()
problems = []
n = 200 if FULL else 20
for i in range(n):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"CRASH please")
    if s.recv(100) != b"":
        problems.append("a crashed handler's client was not closed")
    s.close()
    data = pattern(10000, i)
    if echo_once(srv.port, data) != data:
        problems.append("the next client was not served intact")
        break
report(srv, problems, f" {n} handlers crashed, each next client served")

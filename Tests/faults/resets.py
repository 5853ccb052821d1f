"""Clients reset (SO_LINGER 0) mid-echo, some with data still unread; the server
survives, frees every connection and echoes intact to the next clients."""
import socket, struct
from harness import FULL, Server, echo_once, pattern, report

srv = Server()
problems = []
n = 2000 if FULL else 200
for i in range(n):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(pattern(4096 * (1 + i % 8), i))
    if i % 2:
        s.recv(100)  # part read, the rest left in flight
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
for i in range(20):
    data = pattern(100000, i)
    if echo_once(srv.port, data) != data:
        problems.append("an echo after the resets was corrupted")
        break
report(srv, problems, f" {n} resets mid-echo, then 20 echoes of 100 KB intact")

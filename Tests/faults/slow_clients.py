"""Idle and slowloris clients (1 byte every 20 ms) beside full-speed ones: the
full-speed clients are served completely while the slow ones trickle, and the
slow ones get every byte back too."""
import socket, threading, time
from harness import FULL, Server, echo_once, pattern, read_to_eof, report

srv = Server()
problems = []
idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(200 if FULL else 50)]
slow_n = 50 if FULL else 10
stop = threading.Event()
slow_ok = [False] * slow_n

def slowloris(k):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    sent = bytearray()
    while not stop.is_set() and len(sent) < 100:
        b = bytes([65 + (len(sent) + k) % 26])
        s.sendall(b)
        sent += b
        time.sleep(0.02)
    s.shutdown(socket.SHUT_WR)
    slow_ok[k] = read_to_eof(s) == bytes(sent)

threads = [threading.Thread(target=slowloris, args=(k,)) for k in range(slow_n)]
for t in threads:
    t.start()
t0 = time.time()
fast = 300 if FULL else 60
for i in range(fast):
    data = pattern(50000, i)
    if echo_once(srv.port, data) != data:
        problems.append("a full-speed echo was corrupted")
        break
fast_time = time.time() - t0
stop.set()
for t in threads:
    t.join(60)
if not all(slow_ok):
    problems.append(f"{slow_ok.count(False)} slow clients lost bytes")
for s in idle:
    s.close()
report(srv, problems, f" {len(idle)} idle + {slow_n} slowloris beside {fast} full-speed clients ({fast_time:.2f} s)")

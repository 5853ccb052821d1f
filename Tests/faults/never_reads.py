"""A client that sends a lot and never reads: its handler blocks in sendall, the
other clients are served meanwhile, and closing it frees everything."""
import socket, time
from harness import FULL, Server, echo_once, pattern, report

srv = Server()
problems = []
hogs = []
for _ in range(5 if FULL else 2):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.setblocking(False)
    sent = 0
    deadline = time.time() + 5
    while time.time() < deadline:  # until both socket buffers are full
        try:
            sent += s.send(b"x" * 65536)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                sent += s.send(b"x" * 65536)
            except BlockingIOError:
                break
    hogs.append((s, sent))
cpu0 = srv.cpu()
for i in range(50):
    data = pattern(20000, i)
    if echo_once(srv.port, data) != data:
        problems.append("a client beside the non-reader was not served intact")
        break
time.sleep(1)
cpu_idle = srv.cpu() - cpu0
for s, _ in hogs:
    s.close()
report(srv, problems, f" {len(hogs)} non-readers ({hogs[0][1] // 1024} KiB stuck each); 50 others served; cpu {cpu_idle:.2f} s")

"""Many concurrent connections (10,000 in full mode), every echo verified: all are
opened first, then each sends its own pattern, half-closes and reads it back."""
import selectors, socket, time
from harness import FULL, Server, pattern, raise_nofile, report

n = 10000 if FULL else 500
raise_nofile(2 * n + 100)
srv = Server(nofile=2 * n + 100)
problems = []
sel = selectors.DefaultSelector()
conns = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", srv.port))
    conns.append(s)
    sel.register(s, selectors.EVENT_WRITE, [i, pattern(512 + i % 1500, i), 0, bytearray()])
peak_rss = 0
done = 0
deadline = time.time() + (120 if FULL else 30)
while done < n and time.time() < deadline:
    for key, ev in sel.select(timeout=1):
        s, st = key.fileobj, key.data
        if ev & selectors.EVENT_WRITE:
            try:
                st[2] += s.send(st[1][st[2]:])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                problems.append(f"conn {st[0]}: {e}")
                sel.unregister(s); done += 1
                continue
            if st[2] == len(st[1]):
                s.shutdown(socket.SHUT_WR)
                sel.modify(s, selectors.EVENT_READ, st)
        else:
            try:
                b = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                problems.append(f"conn {st[0]}: {e}")
                sel.unregister(s); done += 1
                continue
            if b:
                st[3] += b
                continue
            sel.unregister(s)
            done += 1
            if bytes(st[3]) != st[1]:
                problems.append(f"conn {st[0]}: echo lost or corrupted")
    if srv.alive():
        peak_rss = max(peak_rss, srv.rss())
if done < n:
    problems.append(f"only {done} of {n} finished in time")
for s in conns:
    s.close()
report(srv, problems[:5], f" {n} concurrent connections, every echo verified; peak RSS {peak_rss} KiB")

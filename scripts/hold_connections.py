"""Holds N concurrent connections to an echo server and checks each one echoes.

    python3 scripts/hold_connections.py PORT [N=10000] [HOLD_SECONDS=0]

Connects in batches of 100 (non-blocking) and checks an echo on each new
connection, keeping all of them open; with N open, does two more rounds of a
distinct 16-byte message on every connection, all sent before any is read, and
reports the times. Needs `ulimit -n` above N.
"""
import selectors, socket, sys, time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0
sel = selectors.DefaultSelector()
socks = []


def round_trip(group, tag):
    want = {}
    for i, s in enumerate(group):
        msg = f"{tag}{i:015d}".encode()[:16]
        want[s] = msg
        s.sendall(msg)
        sel.register(s, selectors.EVENT_READ, bytearray())
    left = len(group)
    while left:
        ready = sel.select(10)
        if not ready:
            sys.exit(f"timed out with {left} echoes missing")
        for key, _ in ready:
            s, buf = key.fileobj, key.data
            chunk = s.recv(64)
            if not chunk:
                sys.exit("server closed a connection")
            buf += chunk
            if len(buf) >= 16:
                if bytes(buf) != want[s]:
                    sys.exit("wrong echo")
                sel.unregister(s)
                left -= 1


t0 = time.time()
for start in range(0, n, 100):
    batch = []
    for i in range(start, min(n, start + 100)):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        batch.append(s)
    pending = len(batch)
    while pending:
        ready = sel.select(10)
        if not ready:
            sys.exit(f"timed out connecting ({len(socks)} open)")
        for key, _ in ready:
            sel.unregister(key.fileobj)
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit(f"connect failed: errno {err}")
            pending -= 1
    round_trip(batch, "c")
    socks += batch
print(f"{len(socks)} connections open and echoing after {time.time() - t0:.1f}s", flush=True)

for tag in "ab":
    t = time.time()
    round_trip(socks, tag)
    print(f"round {tag}: {len(socks)} echoes checked in {time.time() - t:.2f}s", flush=True)
time.sleep(hold)  # time to look at the server (fds, memory) with all connections open
for s in socks:
    s.close()
print("ok")

"""A TLS echo server (curio.tcp_server with a server SSLContext) under abuse:
clients that stall mid-handshake (nothing sent, or half a ClientHello) stay open
while the others are served and are dropped at the handshake timeout; plain-TCP
and garbage clients are refused without harm; TLS clients reset (SO_LINGER 0)
mid-handshake and mid-echo; then many concurrent TLS connections, every echo
verified; last, SIGINT and SIGTERM while TLS clients are mid-transfer."""
import os, random, signal, socket, ssl, struct, threading, time
from harness import FULL, ROOT, Server, pattern, raise_nofile, report, signal_mid_transfer

CA = os.path.join(ROOT, "Tests/lua/fixtures/ssl/ca.pem")
CTX = ssl.create_default_context(cafile=CA)
HANDSHAKE_TIMEOUT = 2
STALLED, GARBAGE, RESETS, CONCURRENT = (100, 100, 1000, 1000) if FULL else (20, 20, 100, 200)
raise_nofile(CONCURRENT + STALLED + 200)


def client_hello():
    """The first flight of a real TLS client (to send a part of it)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = CTX.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def tls_connect(port, timeout=20):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return CTX.wrap_socket(raw, server_hostname="localhost")


def read_exactly(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(min(65536, n - len(got)))
        if not b:
            break
        got += b
    return bytes(got)


def sees_end(s, timeout):
    """True if the server ends the connection (EOF, reset or alert) within timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
        return True
    except (ConnectionError, ssl.SSLError):
        return True
    except OSError:  # socket.timeout
        return False


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


srv = Server(args=("tls", str(HANDSHAKE_TIMEOUT)))
problems = []
hello = client_hello()
rng = random.Random(15)

# Stalled handshakes: held open through the phases below.
stalled = []
for i in range(STALLED):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    if i % 2:
        s.sendall(hello[: max(1, len(hello) // 2)])
    stalled.append(s)
t_stalled = time.time()

# Plain TCP and garbage: the handshake fails, that connection ends, nothing else.
garbage_ended = 0
for i in range(GARBAGE):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    payload = b"GET / HTTP/1.0\r\n\r\n" if i % 2 else bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    garbage_ended += sees_end(s, 10)
    s.close()
if garbage_ended != GARBAGE:
    problems.append(f"{GARBAGE - garbage_ended} garbage clients were not ended")

# Resets: half mid-handshake (after half a ClientHello), half mid-echo.
for i in range(RESETS):
    if i % 2:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(hello[: rng.randint(1, len(hello))])
        rst(s)
        continue
    s = tls_connect(srv.port)
    s.sendall(pattern(4096 * (1 + i % 8), i))
    if i % 4 == 0:
        s.recv(100)
    rst(s)

# Many concurrent TLS connections (the stalled ones still open), every echo verified.
t0 = time.time()
conns = [tls_connect(srv.port) for _ in range(CONCURRENT)]
sizes = [1 + (i * 7919) % 32768 for i in range(CONCURRENT)]
for i, s in enumerate(conns):
    s.sendall(pattern(sizes[i], i))
bad = 0
for i, s in enumerate(conns):
    if read_exactly(s, sizes[i]) != pattern(sizes[i], i):
        bad += 1
    s.close()
took = time.time() - t0
if bad:
    problems.append(f"{bad} concurrent echoes lost or corrupted")

# The stalled handshakes are dropped by the server at its timeout.
left = max(0.0, HANDSHAKE_TIMEOUT + 5 - (time.time() - t_stalled))
dropped = sum(sees_end(s, left if i == 0 else 0.5) for i, s in enumerate(stalled))
for s in stalled:
    s.close()
if dropped != STALLED:
    problems.append(f"{STALLED - dropped} stalled handshakes outlived the handshake timeout")

# One more echo, large, after all that.
s = tls_connect(srv.port)
big = pattern(200000, 3)
threading.Thread(target=s.sendall, args=(big,)).start()
if read_exactly(s, len(big)) != big:
    problems.append("the last 200 KB echo was corrupted")
s.close()

# SIGINT and SIGTERM mid-I/O, each on a server of its own.
sigs = []
for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
    s2 = Server(args=("tls",))
    rc, _, found = signal_mid_transfer(s2, sig, want, lambda i: tls_connect(s2.port, timeout=15), 10, 16384,
                                       errors=(OSError, ssl.SSLError))
    problems += found
    sigs.append(f"{sig.name}->{rc}")

report(srv, problems,
       f" {STALLED} stalled handshakes dropped at {HANDSHAKE_TIMEOUT} s, {GARBAGE} plain/garbage clients,"
       f" {RESETS} resets mid-handshake/echo, {CONCURRENT} concurrent echoes verified ({took:.2f} s);"
       f" {', '.join(sigs)} mid-I/O")

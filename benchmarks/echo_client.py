"""Fixed-count echo client for instruction counts (benchmarks/instr.sh):
   python3 echo_client.py PORT ROUNDS SIZE [CONNS]
Each round sends SIZE bytes on every connection, then reads each echo back whole.
SIZE "http": each round is one keep-alive GET / answered by examples/http_hello.lua."""
import socket, sys, time

port, rounds = int(sys.argv[1]), int(sys.argv[2])
http = sys.argv[3] == "http"
size = 0 if http else int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 10
for _ in range(600):  # the server may still be starting (under valgrind: slowly)
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.05)
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
msg = b"x" * size
if http:  # wrk's request; the answer is http_hello.lua's keep-alive response
    msg = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    size = len(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n")
for _ in range(rounds):
    for s in socks:
        s.sendall(msg)
    for s in socks:
        got = 0
        while got < size:
            b = s.recv(size - got)
            if not b:
                sys.exit("server closed")
            got += len(b)
for s in socks:
    s.close()

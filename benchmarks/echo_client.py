"""Fixed-count echo client for instruction counts (benchmarks/instr.sh):
   python3 echo_client.py PORT ROUNDS SIZE [CONNS]
Each round sends SIZE bytes on every connection, then reads each echo back whole."""
import socket, sys, time

port, rounds, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 10
for _ in range(600):  # the server may still be starting (under valgrind: slowly)
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.05)
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
msg = b"x" * size
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

#!/usr/bin/env python3
"""echo_check.py PORT: byte-exact check of an echo server on 127.0.0.1:PORT.
Sends messages of 1 B to 1 MiB (random bytes) on one connection, and several
connections interleaved; every echo must come back whole and unchanged."""
import os, socket, sys

def roundtrip(s, data):
    s.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        chunk = s.recv(min(1 << 20, len(data) - len(got)))
        if not chunk:
            raise SystemExit(f"EOF after {len(got)} of {len(data)} bytes")
        got += chunk
    if bytes(got) != data:
        raise SystemExit(f"echo of {len(data)} bytes differs")

def main():
    port = int(sys.argv[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        size = 1
        while size <= 1 << 20:
            roundtrip(s, os.urandom(size))
            size *= 4
    conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(8)]
    for i in range(50):
        for c in conns:
            roundtrip(c, os.urandom(1 + (i * 97) % 5000))
    for c in conns:
        c.close()
    print("echo check ok")

main()

#!/usr/bin/env python3
"""Sends N actor-port headers announcing a 4 GiB payload to a fresh
agora-master and reports its resident memory before and after.

Usage: scripts/basp-header-probe.py build/bin/agora-master PORT N
(PORT is the actor port; PORT+1 is used for HTTP.) Without the guarded
transport (protocol::load_transport), CAF 0.17 sized a 4 GiB buffer per
connection; see docs/hostile-input.md.
"""
import socket
import struct
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    master, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    p = subprocess.Popen([master, f"--port={port + 1}", f"--actor-port={port}", "--ip=127.0.0.1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        before = rss_kib(p.pid)
        # A client handshake header (CAF 0.17 BASP: operation, 2 padding
        # bytes, flags, payload length, operation data, source and
        # destination actor; network byte order) announcing 0xFFFFFFF0 bytes.
        header = struct.pack("!BBBBIQQQ", 1, 0, 0, 0, 0xFFFFFFF0, 0, 0, 0)
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(header)
            socks.append(s)
        closed = 0
        for s in socks:
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
                closed += 1
            except socket.timeout:
                pass
        after = rss_kib(p.pid)
        print(f"connections {n}, closed by the master {closed}, "
              f"RSS before {before} KiB, after {after} KiB, growth {after - before} KiB")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()

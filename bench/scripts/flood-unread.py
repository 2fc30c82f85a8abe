#!/usr/bin/env python3
"""Flood that never reads: three screen sockets send 60,000 non-JSON 4 KB frames each
through a 4 KiB receive buffer and read nothing; prints how many the server closed and
its resident memory before and after. Loopback only, bounded.

Run: python3 bench/scripts/flood-unread.py [--binary .build/release/pollcast]
"""
import argparse, base64, os, socket, time

from pollcast_server import RELEASE, PollcastServer

parser = argparse.ArgumentParser()
parser.add_argument("--binary", default=RELEASE)
args = parser.parse_args()

with PollcastServer(args.binary) as server:
    before = server.rss_mb()
    frame = bytes([0x81, 0x80 | 126, 4000 >> 8, 4000 & 0xFF, 0, 0, 0, 0]) + b"x" * 4000  # zero mask
    burst = frame * 64
    closed, sockets = 0, []
    for _ in range(3):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws/alice?role=screen HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pollcast.v1\r\n\r\n").encode())
        s.settimeout(30)
        try:
            for _ in range(60000 // 64):
                s.sendall(burst)
        except OSError:
            closed += 1
        sockets.append(s)
    time.sleep(2)
    print(f"flooders closed {closed}/3, server RSS {before:.1f} MB -> {server.rss_mb():.1f} MB")

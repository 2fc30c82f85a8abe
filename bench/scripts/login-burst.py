#!/usr/bin/env python3
"""Login burst: does password hashing starve the API?

Starts the release `pollcast` on a free port with real PBKDF2 (600,000 iterations),
times `GET /api/rooms/<user>` with nothing else going on (the baseline), then again
while N logins with wrong passwords for made-up users are in flight, and prints both
and their ratio. Loopback only; bounded in count and time.

Run: python3 bench/scripts/login-burst.py [--logins 48] [--binary .build/release/pollcast]
"""
import argparse, http.client, json, statistics, threading, time

from pollcast_server import RELEASE, PollcastServer

parser = argparse.ArgumentParser()
parser.add_argument("--logins", type=int, default=48)
parser.add_argument("--binary", default=RELEASE)
args = parser.parse_args()


def get_room(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    c.request("GET", "/api/rooms/alice")
    c.getresponse().read()
    return (time.perf_counter() - start) * 1000


def login(port, i, statuses):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/api/login", json.dumps({"username": f"nobody{i}", "password": "a guess"}),
              {"Content-Type": "application/json"})
    statuses.append(c.getresponse().status)


with PollcastServer(args.binary) as server:
    idle = [get_room(server.port) for _ in range(20)]
    statuses = []
    threads = [threading.Thread(target=login, args=(server.port, i, statuses)) for i in range(args.logins)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(0.2)
    busy = []
    while any(t.is_alive() for t in threads) and len(busy) < 20:
        busy.append(get_room(server.port))
        time.sleep(0.1)
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    counted = {code: statuses.count(code) for code in sorted(set(statuses))}
    print(f"{args.logins} parallel logins: replies {counted}, all answered in {took:.1f} s")
    print(f"GET /api/rooms idle:           median {statistics.median(idle):.2f} ms, max {max(idle):.2f} ms")
    print(f"GET /api/rooms during logins:  median {statistics.median(busy):.2f} ms, max {max(busy):.2f} ms "
          f"({len(busy)} requests)")
    print(f"ratio (during / idle, median): {statistics.median(busy) / statistics.median(idle):.2f}x")

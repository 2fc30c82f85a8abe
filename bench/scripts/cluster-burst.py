#!/usr/bin/env python3
"""A classroom burst on one node and on two, measured in one run.

Every participant is connected and greeted first; then all answer at once. Reported per
setup: the time until every answer is acked, the ack latency (median and 99th
percentile), and the time until a screen on every node shows the full total. Setups,
all with the release binary and the same burst:

  sqlite      one node on SQLite (the default): the baseline
  postgres-1  one node on PostgreSQL
  postgres-2  two nodes on one PostgreSQL, participants split between them, a screen
              on each node (the cross-node path: NOTIFY, follower, refresh)

PostgreSQL is a real server started in a temporary folder (scripts/postgres-temp.sh)
with fsync on. Ratios are against sqlite in the same run.

  bench/scripts/cluster-burst.py [--participants 400] [--rounds 3]
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import websocket

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("POLLCAST_BINARY", os.path.join(ROOT, ".build", "release", "pollcast"))
PG = os.path.join(ROOT, "scripts", "postgres-temp.sh")
PASSWORD = "a benchmark password"
sys.path.insert(0, os.path.join(ROOT, "Tests", "cluster"))
from test_cluster import free_port, request  # noqa: E402


def start_node(store_args):
    port = free_port()
    process = subprocess.Popen([BINARY, "serve", "--port", str(port), "--host", "127.0.0.1", "--web",
                                os.path.join(ROOT, "web")] + store_args,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "listening" in process.stdout.readline()
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, f"http://127.0.0.1:{port}"


def burst(bases, participants):
    """One round: a fresh poll, everyone greeted, then everyone answers at once."""
    status, body = request(bases[0], "POST", "/api/login", {"username": "alice", "password": PASSWORD})
    token = body["token"]
    status, poll = request(bases[0], "POST", "/api/polls",
                           {"type": "choice", "title": "Which bond is the strongest? ⚗️",
                            "options": ["Hydrogen", "Ionic", "Covalent", "Van der Waals"]}, token)
    request(bases[0], "POST", f"/api/polls/{poll['id']}/activate", None, token)
    for base in bases:
        deadline = time.time() + 10
        while (request(base, "GET", "/api/rooms/alice")[1].get("poll") or {}).get("id") != poll["id"]:
            assert time.time() < deadline
            time.sleep(0.01)
    screens = []
    for base in bases:
        s = websocket.create_connection(base.replace("http", "ws", 1) + "/ws/alice?role=screen",
                                        subprotocols=["pollcast.v1"], timeout=30)
        screens.append(s)
    sockets = []
    for i in range(participants):
        ws = websocket.create_connection(bases[i % len(bases)].replace("http", "ws", 1) + "/ws/alice?role=participant",
                                         subprotocols=["pollcast.v1"], timeout=30)
        ws.send(json.dumps({"type": "hello", "participant": secrets.token_hex(16)}))
        while json.loads(ws.recv())["type"] != "state":
            pass
        sockets.append(ws)
    latencies = [None] * participants
    go = threading.Event()
    seen = [None] * len(screens)

    def watch(k, s):
        while True:
            f = json.loads(s.recv())
            if f["type"] == "results" and f.get("total") == participants:
                seen[k] = time.perf_counter()
                return

    def answer(indexes):
        go.wait()
        for i in indexes:
            t0 = time.perf_counter()
            sockets[i].send(json.dumps({"type": "answer", "ref": 1, "poll": poll["id"], "choices": [i % 4]}))
            while True:
                f = json.loads(sockets[i].recv())
                if f.get("ref") == 1:
                    assert f["type"] == "ack", f
                    latencies[i] = time.perf_counter() - t0
                    break
    watchers = [threading.Thread(target=watch, args=(k, s)) for k, s in enumerate(screens)]
    for t in watchers:
        t.start()
    # Each thread sends its share without waiting between them: the burst arrives at once.
    groups = 16
    workers = [threading.Thread(target=answer, args=(range(g, participants, groups),)) for g in range(groups)]
    for t in workers:
        t.start()
    start = time.perf_counter()
    go.set()
    for t in workers:
        t.join()
    all_acked = time.perf_counter() - start
    for t in watchers:
        t.join(timeout=30)
    converged = max(seen) - start
    for ws in sockets + screens:
        ws.close()
    ordered = sorted(latencies)
    return {"all_acked": all_acked, "p50": statistics.median(ordered),
            "p99": ordered[int(len(ordered) * 0.99) - 1], "screens": converged}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pollcast-cluster-bench-")
    os.chmod(work, 0o755)
    pg_dir = os.path.join(work, "pg")
    database = subprocess.run([PG, "start", pg_dir, str(free_port())], check=True, capture_output=True,
                              text=True).stdout.strip()
    data = os.path.join(work, "data")
    subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", data], check=True,
                   capture_output=True)
    subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--database", database], check=True,
                   capture_output=True)
    setups = {"sqlite": [["--data", data]], "postgres-1": [["--database", database]],
              "postgres-2": [["--database", database], ["--database", database]]}
    results = {name: [] for name in setups}
    try:
        for r in range(args.rounds):
            for name, nodes in setups.items():
                processes = [start_node(a) for a in nodes]
                try:
                    results[name].append(burst([base for _, base in processes], args.participants))
                finally:
                    for p, _ in processes:
                        p.send_signal(signal.SIGTERM)
                        p.wait(timeout=30)
    finally:
        subprocess.run([PG, "stop", pg_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    base = {k: statistics.median(x[k] for x in results["sqlite"]) for k in results["sqlite"][0]}
    print(f"{args.participants} participants answering at once, median of {args.rounds} rounds")
    print(f"{'setup':<12}{'all acked':>12}{'ack p50':>12}{'ack p99':>12}{'all screens':>14}   ratio to sqlite")
    for name, rounds in results.items():
        m = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
        print(f"{name:<12}{m['all_acked'] * 1000:>10.1f}ms{m['p50'] * 1000:>10.1f}ms{m['p99'] * 1000:>10.1f}ms"
              f"{m['screens'] * 1000:>12.1f}ms   acked x{m['all_acked'] / base['all_acked']:.2f}, "
              f"screens x{m['screens'] / base['screens']:.2f}")
    print("RESULT " + json.dumps({k: [{m: round(v, 5) for m, v in x.items()} for x in r] for k, r in results.items()}))


if __name__ == "__main__":
    main()

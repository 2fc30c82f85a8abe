#!/usr/bin/env python3
"""SMS mixed with web answers: do texts slow the web down, and are they all counted?

Starts the release `pollcast` with a Twilio auth token (every text is signed as Twilio
signs it) and one active poll of four options. Phase 1 (baseline): web participants
answer over HTTP at --web-rate answers/s for --seconds. Phase 2: the same web load plus
--sms-rate signed texts/s, each from a new phone ("alice B": join and answer in one
text). Prints answer latency (until the ack, which comes after the commit) per phase
and channel, the ratio of web latency with and without texts, and checks that the poll
counts every acked answer exactly once.

Run: python3 bench/scripts/sms-mix.py [--sms-rate 200] [--web-rate 100] [--seconds 10]
"""
import argparse, base64, hashlib, hmac, http.client, json, os, random, statistics, threading, time, urllib.parse, uuid

from pollcast_server import RELEASE, PollcastServer

parser = argparse.ArgumentParser()
parser.add_argument("--sms-rate", type=float, default=200)
parser.add_argument("--web-rate", type=float, default=100)
parser.add_argument("--seconds", type=float, default=10)
parser.add_argument("--threads", type=int, default=12, help="senders per channel")
parser.add_argument("--binary", default=RELEASE)
args = parser.parse_args()

TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC = "http://sms.bench.example"


def signed(params):
    data = PUBLIC + "/sms/twilio" + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def sender(port, rate, deadline, make, results):
    """Sends requests made by `make(i)` at `rate`/s until `deadline`, on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i, start = 0, time.perf_counter()
    while True:
        due = start + i / rate
        now = time.perf_counter()
        if due >= deadline:
            break
        if due > now:
            time.sleep(due - now)
        method, path, body, headers, ok = make(i)
        sent = time.perf_counter()
        try:
            conn.request(method, path, body, headers)
            reply = conn.getresponse()
            text = reply.read().decode()
            results.append(((time.perf_counter() - sent) * 1000, ok(reply.status, text)))
        except (OSError, http.client.HTTPException):
            results.append((None, False))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i += 1


def run_phase(port, poll, sms_rate, web_rate, seconds, phase):
    web, sms = [], []
    deadline = time.perf_counter() + seconds
    threads = []
    for t in range(args.threads):
        def web_answer(i, t=t):
            participant = f"bench{phase}w{t}n{i}".ljust(24, "x")
            body = json.dumps({"participant": participant, "poll": poll, "choices": [random.randrange(4)]})
            return ("POST", "/api/rooms/alice/answers", body, {"Content-Type": "application/json"},
                    lambda status, text: status == 200 and '"ack"' in text)
        threads.append(threading.Thread(target=sender, args=(port, web_rate / args.threads, deadline, web_answer, web)))
        if sms_rate:
            def text(i, t=t):
                params = {"From": f"+1555{phase}{t:02d}{i:05d}", "To": "+15551234567", "Body": "alice " + "ABCD"[i % 4],
                          "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "ACbench"}
                return ("POST", "/sms/twilio", urllib.parse.urlencode(params),
                        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed(params)},
                        lambda status, text: status == 200 and "Got it" in text)
            threads.append(threading.Thread(target=sender, args=(port, sms_rate / args.threads, deadline, text, sms)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return web, sms


def describe(name, results, seconds):
    times = sorted(ms for ms, ok in results if ok)
    failed = sum(1 for _, ok in results if not ok)
    if not times:
        print(f"{name:<28} no answers acked ({failed} failed)")
        return None
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name:<28} {len(times) / seconds:7.1f}/s acked  p50 {statistics.median(times):7.2f} ms  "
          f"p99 {p99:7.2f} ms  max {times[-1]:7.2f} ms  failed {failed}")
    return statistics.median(times), p99


class Server(PollcastServer):
    def __enter__(self):
        super().__enter__()
        self.process.terminate()
        self.process.wait(timeout=15)
        self.process.stdout.close()
        import subprocess
        self.process = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--host", "127.0.0.1", "--data", self.data,
             "--web", os.path.join(os.path.dirname(RELEASE), "..", "..", "web"), "--public-url", PUBLIC,
             "--twilio-auth-token", TOKEN, "--sms-number", "+15551234567"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert "listening" in self.process.stdout.readline()
        return self


with Server(args.binary) as server:
    api = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    api.request("POST", "/api/login", json.dumps({"username": "alice", "password": server.password}))
    token = json.loads(api.getresponse().read())["token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    api.request("POST", "/api/polls", json.dumps({"type": "choice", "title": "Bench", "options": list("ABCD")}), auth)
    poll = json.loads(api.getresponse().read())["id"]
    api.request("POST", f"/api/polls/{poll}/activate", "", auth)
    api.getresponse().read()

    print(f"web {args.web_rate:.0f}/s over HTTP, then the same plus {args.sms_rate:.0f} signed texts/s; "
          f"{args.seconds:.0f} s each, {args.threads} senders per channel")
    web1, _ = run_phase(server.port, poll, 0, args.web_rate, args.seconds, 1)
    web2, sms2 = run_phase(server.port, poll, args.sms_rate, args.web_rate, args.seconds, 2)
    base = describe("web alone", web1, args.seconds)
    mixed = describe("web with texts", web2, args.seconds)
    describe("texts (join + answer)", sms2, args.seconds)
    if base and mixed:
        print(f"web p50 with texts / alone: {mixed[0] / base[0]:.2f}x, p99: {mixed[1] / base[1]:.2f}x")
    acked = sum(1 for r in (web1, web2, sms2) for _, ok in r if ok)
    api = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # the first one idled out
    api.request("GET", f"/api/polls/{poll}/results", headers=auth)
    total = json.loads(api.getresponse().read())["total"]
    print(f"acked answers {acked}, counted by the poll {total}: {'equal' if acked == total else 'DIFFERENT'}")
    with open(f"/proc/{server.process.pid}/stat") as stat:
        fields = stat.read().split(")")[1].split()
        print(f"server CPU {(int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK'):.2f} s")
    if acked != total:
        raise SystemExit(1)

"""One event on two nodes, for real: a PostgreSQL server in a temporary folder, two
pollcast nodes on two ports sharing it, and Debian's nginx in front running the very
`deploy/nginx/pollcast.conf` that compose.yaml mounts (with this test's nodes.conf and
listen.conf beside it). No sticky sessions: nginx sends each request and connection to
either node.

The tests run in order (their names are numbered): the last ones kill a node and stop
the database."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websocket
from selenium.webdriver.common.by import By

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("POLLCAST_BINARY", os.path.join(ROOT, ".build", "debug", "pollcast"))
PG = os.path.join(ROOT, "scripts", "postgres-temp.sh")
PASSWORD = "a lecture-hall password"
SHOTS = os.path.join(ROOT, "test-output", "screenshots")
TICK = 0.05


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=10.0, step=0.02, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class Node:
    """One `pollcast serve` on the shared database."""

    def __init__(self, name, database, log_dir, public_url):
        self.name, self.database, self.port, self.public_url = name, database, free_port(), public_url
        self.log = open(os.path.join(log_dir, f"node-{name}.log"), "w")
        self.process = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--host", "127.0.0.1", "--database", self.database,
             "--web", os.path.join(ROOT, "web"), "--trusted-proxy", "127.0.0.1", "--public-url", self.public_url],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        assert "listening" in line, f"node {self.name} did not start: {line!r}"
        # Keep reading its output so it never blocks on a full pipe.
        threading.Thread(target=lambda: self.process.stdout.read(), daemon=True).start()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        if self.process is not None:
            self.process.stdout.close()


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pollcast-cluster-")
        os.chmod(self.dir, 0o755)
        self.pg_port = free_port()
        self.pg_dir = os.path.join(self.dir, "pg")
        self.database = subprocess.run([PG, "start", self.pg_dir, str(self.pg_port)], check=True,
                                       capture_output=True, text=True).stdout.strip()
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--database", self.database],
                       check=True, capture_output=True)
        # The audience's address is the load balancer's, as compose.yaml sets it.
        self.nginx_port = free_port()
        self.a = Node("a", self.database, self.dir, self.front)
        self.b = Node("b", self.database, self.dir, self.front)
        self.a.start()
        self.b.start()
        self.start_nginx()

    def start_nginx(self):
        conf = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(conf, "temp"), exist_ok=True)
        # The very file compose mounts; only where the nodes are and the port differ.
        os.symlink(os.path.join(ROOT, "deploy", "nginx", "pollcast.conf"), os.path.join(conf, "pollcast.conf"))
        with open(os.path.join(conf, "nodes.conf"), "w") as f:
            f.write(f"server 127.0.0.1:{self.a.port} max_fails=1 fail_timeout=5s;\n"
                    f"server 127.0.0.1:{self.b.port} max_fails=1 fail_timeout=5s;\n")
        with open(os.path.join(conf, "listen.conf"), "w") as f:
            f.write(f"listen 127.0.0.1:{self.nginx_port};\n")
        temp = os.path.join(conf, "temp")
        with open(os.path.join(conf, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
pid {conf}/nginx.pid;
error_log {conf}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {conf}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include pollcast.conf;
}}
""")
        self.nginx = subprocess.Popen(["nginx", "-p", conf, "-c", os.path.join(conf, "nginx.conf")],
                                      stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.get_status(f"http://127.0.0.1:{self.nginx_port}/healthz") == 200, what="nginx")

    @staticmethod
    def get_status(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status
        except (urllib.error.URLError, OSError):
            return None

    @property
    def front(self):
        return f"http://127.0.0.1:{self.nginx_port}"

    def psql(self, sql):
        return subprocess.run(["psql", self.database, "-At", "-c", sql], check=True, capture_output=True,
                              text=True).stdout.strip()

    def close(self):
        for node in (self.a, self.b):
            node.stop(signal.SIGKILL)
            node.log.close()
        self.nginx.terminate()
        self.nginx.wait(timeout=10)
        subprocess.run([PG, "stop", self.pg_dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def request(base, method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=15) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw and resp.headers.get_content_type() == "application/json"
                                 else raw.decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def socket_to(base, role, room="alice"):
    ws = websocket.create_connection(base.replace("http", "ws", 1) + f"/ws/{room}?role={role}",
                                     subprotocols=["pollcast.v1"], timeout=10)
    return ws


def frames(ws, until, timeout=10.0):
    """Reads frames until `until(frame)` is true; returns that frame."""
    deadline = time.time() + timeout
    while True:
        ws.settimeout(max(0.01, deadline - time.time()))
        frame = json.loads(ws.recv())
        if until(frame):
            return frame


class Participant:
    def __init__(self, base, name=None, id=None):
        """Connects and says hello; `id` reconnects an existing participant (another node)."""
        self.id = id or secrets.token_hex(16)
        self.name = name
        self.ws = socket_to(base, "participant")
        hello = {"type": "hello", "participant": self.id}
        if name:
            hello["name"] = name
        self.ws.send(json.dumps(hello))
        self.state = frames(self.ws, lambda f: f["type"] == "state")
        self.ref = 0

    def answer(self, poll, choices):
        self.ref += 1
        ref = self.ref
        self.ws.send(json.dumps({"type": "answer", "ref": ref, "poll": poll, "choices": choices}))
        return frames(self.ws, lambda f: f.get("ref") == ref and f["type"] in ("ack", "error"))

    def close(self):
        self.ws.close()


QUESTION = ("A patient on warfarin starts a course of clarithromycin.\n"
            "Two days later her INR is 6.1 and she has bruising on both forearms.\n"
            "She is not bleeding anywhere else and feels well.\n"
            "Her blood pressure is 128/76 and her haemoglobin is unchanged.\n"
            "What do you do first? 💊🩸")
OPTIONS = ["Stop warfarin, give oral vitamin K, recheck INR tomorrow 🩸",
           "Give IV vitamin K and prothrombin complex now",
           "Carry on, recheck INR in a week",
           "Halve the warfarin dose and stop the antibiotic"]


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        status, body = request(cls.cluster.front, "POST", "/api/login", {"username": "alice", "password": PASSWORD})
        assert status == 200, body
        cls.token = body["token"]

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def setUp(self):
        c = self.cluster
        for node in (c.a, c.b):
            if not node.alive():
                node.start()

    def new_poll(self, node, **settings):
        status, poll = request(node.base, "POST", "/api/polls",
                               {"type": "choice", "title": QUESTION, "options": OPTIONS, "settings": settings},
                               self.token)
        self.assertEqual(status, 201, poll)
        return poll["id"]

    def activate(self, node, poll, other):
        """Activates on `node` and waits until `other` serves it too."""
        self.assertEqual(request(node.base, "POST", f"/api/polls/{poll}/activate", None, self.token)[0], 200)
        wait_for(lambda: (request(other.base, "GET", "/api/rooms/alice")[1].get("poll") or {}).get("id") == poll,
                 what="the other node to activate the poll")

    def counts_in_database(self, poll, round_=1):
        """Per-option counts PostgreSQL keeps (option -1: respondents) against a count of the rows."""
        kept = dict(tuple(map(int, line.split("|"))) for line in
                    self.cluster.psql(f"SELECT option, count FROM option_counts WHERE poll='{poll}' "
                                      f"AND round={round_} AND count<>0").splitlines() if line)
        rows = self.cluster.psql(f"SELECT answer FROM answers WHERE poll='{poll}' AND round={round_}").splitlines()
        counted = {-1: len(rows)} if rows else {}
        for row in rows:
            for option in row.split(","):
                counted[int(option)] = counted.get(int(option), 0) + 1
        return kept, counted

    # -- the same event on either node

    def test_1_an_answer_on_one_node_reaches_screens_on_the_other(self):
        c = self.cluster
        poll = self.new_poll(c.b)
        self.activate(c.a, poll, c.b)
        screen = socket_to(c.b.base, "screen")
        frames(screen, lambda f: f["type"] == "state" and f["poll"] and f["poll"]["id"] == poll)
        people = [Participant(c.a.base) for _ in range(12)]
        sent = time.time()
        for i, p in enumerate(people):
            self.assertEqual(p.answer(poll, [i % 4])["type"], "ack")
        acked = time.time()
        last = frames(screen, lambda f: f["type"] == "results" and f["poll"] == poll and f["total"] == 12)
        seen = time.time()
        self.assertEqual(last["counts"], [3, 3, 3, 3])
        print(f"\n12 answers on node A acked in {acked - sent:.3f} s; node B's screen had all 12 "
              f"{seen - acked:.3f} s after the last ack ({(seen - acked) / TICK:.1f} ticks)")
        status, results = request(c.b.base, "GET", f"/api/polls/{poll}/results", None, self.token)
        self.assertEqual((results["total"], results["counts"]), (12, [3, 3, 3, 3]))
        kept, counted = self.counts_in_database(poll)
        self.assertEqual(kept, counted)
        for p in people:
            p.close()
        screen.close()

    def test_2_a_changed_answer_on_the_other_node_is_counted_once(self):
        c = self.cluster
        poll = self.new_poll(c.a)
        self.activate(c.a, poll, c.b)
        on_a = Participant(c.a.base)
        self.assertEqual(on_a.answer(poll, [0])["type"], "ack")
        # The same participant (same id) reconnects to node B: B knows their answer ...
        on_b = Participant(c.b.base, id=on_a.id)
        mine = on_b.state["mine"]
        if mine is None:  # B had not read A's commit yet: its next state or results brings it
            mine = wait_for(lambda: request(c.b.base, "GET", f"/api/polls/{poll}/results", None, self.token)[1]
                            ["total"] == 1, what="node B to count A's answer") and {"choices": [0]}
        self.assertEqual(mine["choices"], [0])
        # ... and changes it there: counted once, under the new option.
        self.assertEqual(on_b.answer(poll, [2])["type"], "ack")
        self.assertEqual(on_b.answer(poll, [2])["type"], "ack", "the same answer again is acked again")
        for node in (c.a, c.b):
            wait_for(lambda: request(node.base, "GET", f"/api/polls/{poll}/results", None, self.token)[1]
                     ["counts"] == [0, 0, 1, 0], what=f"node {node.name} to move the count")
            results = request(node.base, "GET", f"/api/polls/{poll}/results", None, self.token)[1]
            self.assertEqual(results["total"], 1)
        kept, counted = self.counts_in_database(poll)
        self.assertEqual(kept, counted)
        self.assertEqual(kept, {-1: 1, 2: 1})
        on_a.close()
        on_b.close()

    def test_3_without_allow_change_the_other_node_refuses_a_second_answer(self):
        c = self.cluster
        poll = self.new_poll(c.a, allowChange=False)
        self.activate(c.b, poll, c.a)
        p = Participant(c.b.base)
        self.assertEqual(p.answer(poll, [1])["type"], "ack")
        again = Participant(c.a.base, id=p.id)
        reply = again.answer(poll, [3])
        self.assertEqual((reply["type"], reply.get("code")), ("error", "already_answered"))
        self.assertEqual(again.answer(poll, [1])["type"], "ack", "the first answer again is acked")
        self.assertEqual(self.counts_in_database(poll)[0], {-1: 1, 1: 1})
        p.close()
        again.close()

    def test_4_hide_on_one_node_leaves_no_count_on_the_other(self):
        c = self.cluster
        poll = self.new_poll(c.a)
        self.activate(c.a, poll, c.b)
        screen = socket_to(c.b.base, "screen")
        frames(screen, lambda f: f["type"] == "state" and f["poll"] and f["poll"]["id"] == poll)
        early = Participant(c.b.base)
        self.assertEqual(early.answer(poll, [1])["type"], "ack")
        frames(screen, lambda f: f["type"] == "results" and f.get("counts") == [0, 1, 0, 0])
        self.assertEqual(request(c.a.base, "POST", f"/api/polls/{poll}/hide", None, self.token)[0], 200)
        frames(screen, lambda f: f["type"] == "state" and f["poll"]["hidden"])
        # From the moment node B applied hide: answers on both nodes move no count on its screens.
        people = [Participant(n.base) for n in (c.a, c.b) for _ in range(5)]
        for i, p in enumerate(people):
            self.assertEqual(p.answer(poll, [i % 4])["type"], "ack")
        # Every frame until node B has counted all 11 (however slow the machine), then a
        # few ticks more: none may carry a count.
        after = []
        frames(screen, lambda f: after.append(f) or (f["type"] == "results" and f.get("total") == 11), timeout=20)
        deadline = time.time() + 6 * TICK
        while time.time() < deadline:
            screen.settimeout(max(0.01, deadline - time.time()))
            try:
                after.append(json.loads(screen.recv()))
            except websocket.WebSocketTimeoutException:
                break
        results = [f for f in after if f["type"] == "results"]
        self.assertTrue(results, "hidden results frames still carry the total")
        for f in results:
            self.assertTrue(f.get("hidden"), f)
            for key in ("counts", "words", "responses", "baseline"):
                self.assertNotIn(key, f)
        self.assertEqual(results[-1]["total"], 11)
        # The public routes of node B say nothing either.
        room = request(c.b.base, "GET", "/api/rooms/alice")[1]
        self.assertNotIn("counts", json.dumps(room))
        for p in people + [early]:
            p.close()
        screen.close()

    def test_5_through_nginx_without_sticky_sessions(self):
        c = self.cluster
        front = c.front
        # A presenter's clicks land on either node; each sees the effect of the one before.
        poll = self.new_poll(c.a)
        for command in ("activate", "lock", "unlock", "hide", "show", "clear", "deactivate", "activate"):
            status, body = request(front, "POST", f"/api/polls/{poll}/{command}", None, self.token)
            self.assertEqual(status, 200, (command, body))
        self.assertEqual(body["round"], 2)
        self.assertTrue(body["active"])
        # WebSockets go through the proxy to either node.
        wait_for(lambda: all((request(n.base, "GET", "/api/rooms/alice")[1].get("poll") or {}).get("id") == poll
                             for n in (c.a, c.b)), what="both nodes to serve the poll")
        screens = [socket_to(front, "screen") for _ in range(4)]
        for s in screens:
            frames(s, lambda f: f["type"] == "state" and f["poll"] and f["poll"]["id"] == poll)
        people = [Participant(front) for _ in range(20)]
        for i, p in enumerate(people):
            self.assertEqual(p.answer(poll, [i % 2])["type"], "ack")
        for s in screens:
            last = frames(s, lambda f: f["type"] == "results" and f["total"] == 20)
            self.assertEqual((last["round"], last["counts"]), (2, [10, 10, 0, 0]))
        # Each node counted the proxied connections under the clients' address (the
        # proxy's X-Forwarded-For), and served some of them.
        served = [int(next(l.split()[1] for l in request(n.base, "GET", "/metrics")[1].splitlines()
                           if l.startswith("pollcast_connections_opened_total"))) for n in (c.a, c.b)]
        self.assertTrue(all(s > 0 for s in served), served)
        for n in (c.a, c.b):
            text = request(n.base, "GET", "/metrics")[1]
            self.assertIn('pollcast_node_info{store="postgresql"} 1.0', text)
            heard = next(l for l in text.splitlines() if l.startswith("pollcast_store_notifications_received_total"))
            self.assertGreater(int(heard.split()[1]), 0)
        for x in people:
            x.close()
        for s in screens:
            s.close()

    def test_5b_a_lesson_in_real_browsers_through_nginx(self):
        """A teacher's lesson as the browsers see it, every page and socket through nginx
        (so each click may land on either node): log in, create, activate, three phones
        answer, the projector counts, the presenter hides and shows from the projector."""
        sys.path.insert(0, os.path.join(ROOT, "Tests", "browser"))
        from test_pages import BrowserSession, counts, wait

        class ThroughNginx(BrowserSession):
            """The browser tests' session, with nginx's address for the server's."""
            def __init__(self, front):
                self.server = type("Front", (), {"url": lambda _, path: front + path})()
                self.drivers = []

        c = self.cluster
        os.makedirs(SHOTS, exist_ok=True)
        lesson = ThroughNginx(c.front)
        try:
            console = lesson.open("/login")
            lesson.login(console, password=PASSWORD)
            lesson.create_and_activate(console, "Two nodes, one room: which layer routes packets? 🌐",
                                       ["Physical", "Network", "Transport", "Application"])
            screen = lesson.open("/present/alice", width=1280, height=720)
            wait(screen, lambda d: "which layer routes packets" in d.find_element(By.ID, "title").text)
            self.assertIn(f"127.0.0.1:{c.nginx_port}/alice", screen.find_element(By.ID, "join-url").text,
                          "the projector shows the load balancer's address, not a node's")
            for option in (1, 1, 2):
                phone = lesson.open("/alice", width=390, height=844, phone=True)
                lesson.tap(phone, option)
            phone.save_screenshot(os.path.join(SHOTS, "cluster-phone-390.png"))
            wait(screen, lambda d: counts(d) == [0, 2, 1, 0], message="the projector counts every phone")
            time.sleep(0.6)  # the bars' transition, for the picture
            screen.save_screenshot(os.path.join(SHOTS, "cluster-screen-1280x720.png"))

            # The presenter's own projector page (logged in) hides and shows by keyboard.
            console.get(c.front + "/present/alice")
            wait(console, lambda d: d.find_element(By.ID, "shortcuts").is_displayed())
            console.find_element(By.TAG_NAME, "body").send_keys("h")
            wait(screen, lambda d: "Responses hidden" in d.find_element(By.ID, "badges").text, message="hidden")
            self.assertNotIn("data-count", screen.page_source)
            console.find_element(By.TAG_NAME, "body").send_keys("h")
            wait(screen, lambda d: counts(d) == [0, 2, 1, 0], message="shown again")
            console.save_screenshot(os.path.join(SHOTS, "cluster-presenter.png"))
        finally:
            for d in lesson.drivers:
                d.quit()
            sys.path.pop(0)

    def test_6_compose_file_is_valid(self):
        env = dict(os.environ, POLLCAST_DB_PASSWORD="checked-by-the-test")
        out = subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "compose.yaml"), "config"], env=env,
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        for service in ("postgres:", "pollcast-a:", "pollcast-b:", "nginx:"):
            self.assertIn(service, out.stdout)
        self.assertIn("/etc/nginx/conf.d/default.conf", out.stdout)
        with open(os.path.join(ROOT, "deploy", "nginx", "pollcast.conf")) as f:
            directives = [line.split("#")[0] for line in f]
        for sticky in ("ip_hash", "hash ", "sticky"):
            self.assertFalse(any(sticky in d for d in directives), f"{sticky} would pin clients to a node")

    # -- failures

    def test_7_kill_9_of_a_node_mid_burst_loses_no_acked_answer(self):
        c = self.cluster
        poll = self.new_poll(c.a, identified=True)
        self.activate(c.a, poll, c.b)
        people = [Participant(c.a.base, name=f"student {i:03d} 🎓") for i in range(120)]
        acked, lock = set(), threading.Lock()

        def answer(batch):
            for p in batch:
                try:
                    if p.answer(poll, [len(p.name) % 4])["type"] == "ack":
                        with lock:
                            acked.add(p.name)
                except Exception:  # the node died under it
                    return
        threads = [threading.Thread(target=answer, args=(people[i::6],)) for i in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 30, what="a third of the answers acked")
        c.a.stop(signal.SIGKILL)
        for t in threads:
            t.join(timeout=20)
        self.assertGreaterEqual(len(acked), 30)
        # Node B keeps serving, and holds every acknowledged answer.
        late = Participant(c.b.base, name="late student")
        self.assertEqual(late.answer(poll, [1])["type"], "ack")
        status, listed = request(c.b.base, "GET", f"/api/polls/{poll}/responses", None, self.token)
        names = {r["name"] for r in listed["responses"]}
        self.assertFalse(acked - names, f"acked but lost: {sorted(acked - names)}")
        self.assertIn("late student", names)
        kept, counted = self.counts_in_database(poll)
        self.assertEqual(kept, counted)
        self.assertEqual(kept[-1], len(names))
        print(f"\nkill -9 mid-burst: {len(acked)} of 120 acked before the kill, all {len(acked)} kept; "
              f"{len(names)} stored in all")
        late.close()

    def test_8_without_the_database_answers_are_unavailable_never_acked(self):
        c = self.cluster
        poll = self.new_poll(c.a)
        self.activate(c.a, poll, c.b)
        p = Participant(c.a.base)
        screen = socket_to(c.b.base, "screen")
        frames(screen, lambda f: f["type"] == "state" and f["poll"] and f["poll"]["id"] == poll)
        subprocess.run([PG, "stop", c.pg_dir], check=True)
        try:
            for choice in range(3):
                reply = p.answer(poll, [choice])
                self.assertEqual((reply["type"], reply.get("code")), ("error", "unavailable"), reply)
        finally:
            subprocess.run([PG, "start", c.pg_dir, str(c.pg_port)], check=True, capture_output=True)
        # Back: the node reconnects by itself; the retried answer is acked and counted once.
        replies = []

        def acked():
            replies.append(p.answer(poll, [3]))
            return replies[-1]["type"] == "ack"
        wait_for(acked, timeout=20, step=0.2, what="an ack once PostgreSQL is back")
        self.assertTrue(all(r.get("code") == "unavailable" for r in replies[:-1]), replies)
        last = frames(screen, lambda f: f["type"] == "results" and f["total"] == 1, timeout=20)
        self.assertEqual(last["counts"], [0, 0, 0, 1])
        self.assertEqual(self.counts_in_database(poll)[0], {-1: 1, 3: 1})
        p.close()
        screen.close()

    def test_9_after_a_quiet_database_restart_the_first_answer_and_click_work(self):
        c = self.cluster
        poll = self.new_poll(c.a)
        self.activate(c.a, poll, c.b)
        p = Participant(c.b.base)
        # Restarted while nobody used it: every node's connections died idle.
        subprocess.run([PG, "stop", c.pg_dir], check=True)
        subprocess.run([PG, "start", c.pg_dir, str(c.pg_port)], check=True, capture_output=True)
        reply = p.answer(poll, [1])
        self.assertEqual(reply["type"], "ack", f"the first answer after the restart: {reply}")
        status, body = request(c.a.base, "POST", f"/api/polls/{poll}/lock", None, self.token)
        self.assertEqual(status, 200, f"the first click after the restart: {body}")
        p.close()


if __name__ == "__main__":
    unittest.main()

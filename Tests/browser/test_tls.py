"""TLS: https and wss through OpenSSL, checked by real TLS clients against a
certificate the test generates (Python's ssl module and websocket-client)."""
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import websocket

from test_pages import BINARY, PASSWORD, ROOT, free_port


class TLSTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pollcast-tls-")
        self.cert, self.key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", self.key, "-out", self.cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = os.path.join(self.dir, "data")
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", data],
                       check=True, stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--host", "127.0.0.1", "--data", data,
             "--web", os.path.join(ROOT, "web"), "--tls-cert", self.cert, "--tls-key", self.key],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.assertIn("https://", self.process.stdout.readline())
        self.context = ssl.create_default_context(cafile=self.cert)

    def tearDown(self):
        self.process.terminate()
        self.process.wait(timeout=15)
        self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, token=None):
        request = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode())
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        return urllib.request.urlopen(request, context=self.context, timeout=10)

    def test_https_and_wss_with_secure_cookies(self):
        with self.request("GET", "/healthz") as reply:
            self.assertEqual(json.load(reply), {"status": "ok"})
        with self.request("POST", "/api/login", {"username": "alice", "password": PASSWORD}) as reply:
            cookie = reply.headers["Set-Cookie"]
            token = json.load(reply)["token"]
        self.assertIn("Secure", cookie)
        self.assertIn("HttpOnly", cookie)
        with self.request("POST", "/api/polls", {"type": "choice", "title": "Over TLS?", "options": ["yes", "no"]},
                          token) as reply:
            poll = json.load(reply)["id"]
        self.request("POST", f"/api/polls/{poll}/activate", token=token).close()

        ws = websocket.create_connection(f"wss://127.0.0.1:{self.port}/ws/alice", subprotocols=["pollcast.v1"],
                                         sslopt={"context": self.context}, timeout=10)
        ws.send(json.dumps({"type": "hello", "participant": os.urandom(16).hex()}))
        state = json.loads(ws.recv())
        self.assertEqual(state["type"], "state")
        self.assertEqual(state["poll"]["id"], poll)
        ws.send(json.dumps({"type": "answer", "ref": 1, "poll": poll, "choices": [0]}))
        self.assertEqual(json.loads(ws.recv())["type"], "ack")
        ws.close()

        # Plain HTTP on the TLS port gets nowhere; an untrusting client refuses the certificate.
        with self.assertRaises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5).read()
        with self.assertRaises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"https://127.0.0.1:{self.port}/healthz", context=ssl.create_default_context(),
                                   timeout=5)
        self.assertIsInstance(refused.exception.reason, ssl.SSLCertVerificationError)


if __name__ == "__main__":
    unittest.main()

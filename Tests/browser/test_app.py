"""The participant page as an installable app, in headless Chromium: a valid manifest
with real icons, a service worker that controls the page after a reload and opens it
from the phone's cache when the server is gone, an answer given offline that is sent
when the server is back, and a CSP that still forbids inline script.

Run: /usr/bin/python3 -m unittest Tests/browser/test_app.py -v
"""
import json
import os
import struct
import sys
import time
import unittest
import urllib.request

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_classroom import ServedRoom  # noqa: E402
from test_pages import SHOTS, wait  # noqa: E402

QUESTION = "Which planet has the shortest year? 🪐"
OPTIONS = ["Mercury", "Venus", "Earth", "Mars"]


class AppTest(ServedRoom, unittest.TestCase):
    def get(self, path):
        with urllib.request.urlopen(self.server.url(path), timeout=10) as reply:
            return reply.headers, reply.read()

    def test_the_manifest_is_valid_and_its_icons_are_real(self):
        headers, body = self.get("/manifest.webmanifest")
        self.assertEqual(headers["Content-Type"], "application/manifest+json")
        manifest = json.loads(body)
        self.assertEqual(manifest["display"], "standalone")
        self.assertEqual(manifest["scope"], "/")
        for icon in manifest["icons"]:
            _, data = self.get(icon["src"])
            if icon["type"] == "image/png":
                self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n", icon["src"])
                width, height = struct.unpack(">II", data[16:24])
                self.assertEqual(f"{width}x{height}", icon["sizes"], icon["src"])
        self.assertTrue(any(i.get("purpose") == "maskable" for i in manifest["icons"]))
        self.assertTrue(any(i["sizes"] == "512x512" for i in manifest["icons"]))

        phone = self.open("/alice", width=390, height=844, phone=True)
        wait(phone, lambda d: d.execute_script("return document.readyState") == "complete")
        parsed = phone.execute_cdp_cmd("Page.getAppManifest", {})
        self.assertTrue(parsed["url"].endswith("/manifest.webmanifest"), parsed)
        self.assertEqual(parsed["errors"], [], "Chromium's manifest parser has no complaint")
        self.assertIn('"short_name": "pollcast"', parsed["data"])
        errors = phone.execute_cdp_cmd("Page.getInstallabilityErrors", {})["installabilityErrors"]
        self.assertEqual(errors, [], "Chromium would offer to install it")
        for page in ["/alice", "/"]:
            found = self.open(page).find_elements(By.CSS_SELECTOR, "link[rel=manifest]")
            self.assertEqual(len(found), 1, page)
        # Started from the home screen (the manifest's start_url), the app opens the last room.
        phone.get(self.server.url("/?app=1"))
        wait(phone, lambda d: d.current_url.endswith("/alice"), message="the app goes to the last room")
        apple = phone.find_element(By.CSS_SELECTOR, "link[rel=apple-touch-icon]").get_attribute("href")
        _, data = self.get(urllib.request.urlparse(apple).path)
        self.assertEqual(struct.unpack(">II", data[16:24]), (180, 180))

    def test_the_app_opens_offline_and_sends_the_answer_when_the_server_is_back(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "choice", "title": QUESTION, "options": OPTIONS})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        phone = self.open("/alice", width=390, height=844, phone=True)
        wait(phone, lambda d: d.execute_script("return !!navigator.serviceWorker && !!navigator.serviceWorker.controller")
             or d.execute_script("return navigator.serviceWorker.ready.then(() => true)"), message="worker ready")
        phone.refresh()
        wait(phone, lambda d: d.execute_script("return navigator.serviceWorker.controller !== null"),
             message="the service worker controls the page after a reload")
        wait(phone, lambda d: d.find_element(By.ID, "title").text == QUESTION, message="the question")
        # A mistyped room is never answered from the cache: the server's "Room not found".
        phone.get(self.server.url("/alicee"))
        wait(phone, lambda d: d.find_element(By.ID, "missing").is_displayed(), message="room not found, not a cached room")
        phone.get(self.server.url("/alice"))
        wait(phone, lambda d: d.find_element(By.ID, "title").text == QUESTION, message="the question again")

        # The server goes away (the Wi-Fi drops, the laptop sleeps): the app still opens.
        self.server.stop()
        phone.refresh()
        wait(phone, lambda d: d.find_element(By.ID, "title").text == QUESTION,
             message="the last question, from the phone's cache")
        wait(phone, lambda d: "Offline" in d.find_element(By.ID, "connection").text, message="says it is offline")
        phone.find_elements(By.CSS_SELECTOR, "label.choice")[0].click()
        wait(phone, lambda d: "will be sent when the connection is back" in d.find_element(By.ID, "feedback").text,
             message="offline, will send")
        time.sleep(0.4)
        phone.save_screenshot(os.path.join(SHOTS, "app-offline-390.png"))

        self.server.start()
        wait(phone, lambda d: d.find_element(By.ID, "feedback").text.startswith("Answer received"), timeout=30,
             message="sent and acked once the server is back")
        self.assertEqual(self.server.api("GET", f"/api/polls/{poll['id']}/results", self.token())["counts"],
                         [1, 0, 0, 0])

    def test_the_csp_still_forbids_inline_script(self):
        headers, _ = self.get("/alice")
        csp = headers["Content-Security-Policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        worker_headers, worker = self.get("/sw.js")
        self.assertTrue(worker_headers["Content-Type"].startswith("text/javascript"))
        self.assertEqual(worker_headers["Cache-Control"], "no-cache")
        self.assertIn(b"addEventListener(\"fetch\"", worker)
        phone = self.open("/alice", width=390, height=844, phone=True)
        wait(phone, lambda d: d.execute_script("return document.readyState") == "complete")
        ran = phone.execute_script("""
            window.__inline = false;
            const s = document.createElement("script");
            s.textContent = "window.__inline = true";
            document.head.append(s);
            return window.__inline;""")
        self.assertFalse(ran, "an inline script injected into the page does not run")


if __name__ == "__main__":
    unittest.main()

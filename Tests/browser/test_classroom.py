"""A lesson as a teacher runs it, in headless Chromium: the address the room is shown,
getting back in after logging out, a server restart nobody notices, names of
identified polls, answering with the keyboard, "Present" from the list, and axe-core
on every page.

Run: /usr/bin/python3 -m unittest Tests/browser/test_classroom.py -v
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pages import (BINARY, PASSWORD, ROOT, SHOTS, BrowserSession, Server, browser, counts,  # noqa: E402
                        free_port, wait)

LONG_QUESTION = ("A train leaves Lyon at 9:40 and travels north at 120 km/h.\n"
                 "A second train leaves Paris, 460 km away, at 10:10, heading south at 160 km/h.\n"
                 "Both keep their speed; the stops are too short to count.\n"
                 "Ignore the curvature of the track and the time zones.\n"
                 "At what time do the two trains pass each other? 🚆")
OPTIONS = ["11:34, north of Dijon", "11:47 🕚", "12:02, just as the buffet car opens 🥐",
           "12:15", "They never meet: one of them is always late", "None of these"]


class LessonServer(Server):
    """A pollcast process with the options a test needs (bound to all interfaces when
    `host` is None), keeping what it printed on start."""

    def __init__(self, data, port, host="127.0.0.1", extra=()):
        super().__init__(data, port)
        self.host, self.extra, self.printed = host, list(extra), []

    def start(self):
        args = [BINARY, "serve", "--port", str(self.port), "--data", self.data,
                "--web", os.path.join(ROOT, "web"), "--tick-ms", "50", *self.extra]
        if self.host:
            args += ["--host", self.host]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.printed = [self.process.stdout.readline(), self.process.stdout.readline()]
        assert "listening" in self.printed[0], self.printed


class ServedRoom(BrowserSession):
    """A test with one server of its own, started for each test with the presenter alice
    and `server_options`, and everything stopped and removed afterwards."""

    server_options = ()

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="pollcast-browser-")
        self.drivers = []
        os.makedirs(SHOTS, exist_ok=True)
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", self.data],
                       check=True, stdout=subprocess.DEVNULL)
        self.server = LessonServer(self.data, free_port(), extra=self.server_options)
        self.server.start()

    def tearDown(self):
        for d in self.drivers:
            d.quit()
        self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def axe_violations(driver):
    """Serious and critical axe-core violations on the page as it is now."""
    from axe_selenium_python import Axe
    axe = Axe(driver)
    axe.inject()
    result = axe.run()
    return [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


class LessonTest(BrowserSession, unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="pollcast-lesson-")
        self.drivers = []
        self.server = None
        os.makedirs(SHOTS, exist_ok=True)

    def tearDown(self):
        for d in self.drivers:
            d.quit()
        if self.server:
            self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    def serve(self, host="127.0.0.1", extra=(), user=True):
        if user:
            subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", self.data],
                           check=True, stdout=subprocess.DEVNULL)
        self.server = LessonServer(self.data, free_port(), host=host, extra=extra)
        self.server.start()
        return self.server

    def close(self, driver):
        driver.quit()
        self.drivers.remove(driver)


    def select(self, console, title=None):
        """Clicks a poll in the console's list, which is redrawn whenever the room changes."""
        path = f"//button[@class='poll-title' and text()='{title}']" if title else "//button[@class='poll-title']"

        def click(d):
            try:
                d.find_element(By.XPATH, path).click()
                return True
            except (StaleElementReferenceException, NoSuchElementException):
                return False
        wait(console, click, message=f"poll {title} in the list")

    def poll(self, body, activate=True):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, body)
        if activate:
            self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        return poll

    def results(self, poll):
        return self.server.api("GET", f"/api/polls/{poll['id']}/results", self.token())

    def choices(self, phone, n):
        wait(phone, lambda d: len(d.find_elements(By.CSS_SELECTOR, "input[name=choice]")) == n, message="choices shown")
        return phone.find_elements(By.CSS_SELECTOR, "input[name=choice]")

    def tap(self, phone, index):
        phone.find_elements(By.CSS_SELECTOR, "label.choice")[index].click()

    # 1. The join address.
    def test_the_screen_shows_the_public_url_and_never_localhost(self):
        self.serve(extra=["--public-url", "http://192.168.50.7:8080/"])
        self.poll({"type": "choice", "title": "Ready?", "options": ["Yes", "No"]})
        self.assertIn("audience joins at http://192.168.50.7:8080/", self.server.printed[1])
        # The teacher's own browser is on 127.0.0.1: that must not decide the address.
        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: "192.168.50.7:8080/alice" in d.find_element(By.ID, "join-url").text,
             message="the public address on the screen")
        qr = urllib.request.urlopen(self.server.url("/qr/alice.svg")).read()
        other = urllib.request.urlopen(urllib.request.Request(self.server.url("/qr/alice.svg"),
                                                              headers={"Host": "localhost"})).read()
        self.assertEqual(qr, other, "the QR code does not follow the Host header")
        self.assertTrue(screen.find_element(By.ID, "qr").get_attribute("src").endswith("/qr/alice.svg"))

    def test_without_public_url_the_machine_address_is_shown_and_printed(self):
        # Bound to every interface (nothing is sent anywhere but loopback), no users yet.
        self.serve(host=None, user=False)
        printed = "".join(self.server.printed)
        self.assertNotIn("localhost", printed)
        link_line = self.server.process.stdout.readline()
        self.assertIn("/login?link=", link_line)
        self.assertNotIn("localhost", link_line)
        self.assertNotIn("127.0.0.1", link_line)
        username = link_line.split("created presenter ")[1].split(";")[0]
        screen = self.open(f"/present/{username}", width=1280, height=720)
        wait(screen, lambda d: f"/{username}" in d.find_element(By.ID, "join-url").text)
        shown = screen.find_element(By.ID, "join-url").text
        self.assertNotIn("localhost", shown)
        self.assertNotIn("127.0.0.1", shown)
        room = json.loads(urllib.request.urlopen(self.server.url(f"/api/rooms/{username}")).read())
        self.assertIn(shown.split("://")[-1], room["join"])

    # 2. Accounts from the browser.
    def test_logout_then_log_in_again_with_a_password_set_in_the_browser(self):
        port = free_port()
        self.server = LessonServer(self.data, port, extra=["--public-url", f"http://127.0.0.1:{port}"])
        self.server.start()
        line = self.server.process.stdout.readline()
        link = line.split("log in once with: ")[1].strip()
        username = line.split("created presenter ")[1].split(";")[0]
        console = browser()
        self.drivers.append(console)
        console.get(link)
        wait(console, lambda d: d.current_url.endswith("/admin"))
        wait(console, lambda d: d.find_element(By.ID, "account").is_displayed(), message="asks for a password")
        self.assertFalse(console.find_element(By.ID, "p-current").is_displayed(), "no current password yet")
        console.find_element(By.ID, "p-new").send_keys("lecture hall 4B ☕")
        console.find_element(By.ID, "p-repeat").send_keys("lecture hall 4B ☕")
        console.find_element(By.CSS_SELECTOR, "#password-form button[type=submit]").click()
        wait(console, lambda d: "Password saved" in d.find_element(By.ID, "status").text)
        console.save_screenshot(os.path.join(SHOTS, "console-password-saved.png"))
        time.sleep(0.5)
        self.assertTrue(console.current_url.endswith("/admin"), "changing the password keeps this browser in")
        console.find_element(By.ID, "logout").click()
        wait(console, lambda d: d.current_url.endswith("/login"))
        console.find_element(By.ID, "username").send_keys(username)
        console.find_element(By.ID, "password").send_keys("lecture hall 4B ☕")
        console.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
        wait(console, lambda d: d.current_url.endswith("/admin"), message="back in with the new password")
        wait(console, lambda d: d.find_element(By.ID, "who").text == username)
        self.assertFalse(console.find_element(By.ID, "account").is_displayed())
        # The used link: a page that says what to do, no JSON.
        console.get(link)
        wait(console, lambda d: d.find_element(By.ID, "link-note").is_displayed())
        self.assertIn("already been used", console.find_element(By.ID, "link-note").text)
        self.assertIn("pollcast user login-link", console.find_element(By.ID, "link-note").text)
        self.assertNotIn('{"error"', console.page_source)
        console.save_screenshot(os.path.join(SHOTS, "login-used-link.png"))

    def test_a_mistyped_room_shows_the_join_form(self):
        self.serve()
        phone = self.open("/alicee", width=390, height=844, phone=True)
        wait(phone, lambda d: d.find_element(By.ID, "missing").is_displayed())
        self.assertIn('no room called "alicee"', phone.find_element(By.ID, "missing").text)
        field = phone.find_element(By.ID, "room")
        field.clear()
        field.send_keys("alice" + Keys.ENTER)
        wait(phone, lambda d: d.current_url.endswith("/alice"), message="the form takes the student to the room")
        phone.get(self.server.url("/alicee"))
        wait(phone, lambda d: d.find_element(By.ID, "missing").is_displayed())
        phone.save_screenshot(os.path.join(SHOTS, "phone-unknown-room-390.png"))

    # 3. Restarts are invisible.
    def test_a_restart_is_invisible_to_the_screen_and_the_phones(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Best season for fieldwork?",
                          "options": ["Spring 🌱", "Summer ☀️", "Autumn 🍂", "Winter ❄️"],
                          "settings": {"showResultsToParticipants": True}})
        screen = self.open("/present/alice", width=1280, height=720)
        phones = [self.open("/alice", width=390, height=844, phone=True) for _ in range(2)]
        self.tap(phones[0], 0)
        self.tap(phones[1], 3)
        wait(screen, lambda d: counts(d) == [1, 0, 0, 1], message="before the restart")
        for phone in phones:
            wait(phone, lambda d: d.find_element(By.ID, "results-card").is_displayed())
        self.server.stop()
        self.server.start()
        for phone in phones:
            wait(phone, lambda d: d.find_element(By.ID, "connection").text == "Connected", timeout=30)
        self.tap(phones[0], 1)
        self.tap(phones[1], 2)
        wait(screen, lambda d: counts(d) == [0, 1, 1, 0], timeout=30, message="the screen follows without a reload")
        for phone in phones:
            wait(phone, lambda d: counts(d) == [0, 1, 1, 0], message="so do the phones' live results")
        self.assertEqual(self.results(poll)["counts"], [0, 1, 1, 0])

    def test_an_answer_sent_offline_is_what_the_phone_shows_after_it_lands(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Pick one", "options": ["Red", "Green", "Blue"]})
        phone = self.open("/alice", width=390, height=844, phone=True)
        self.choices(phone, 3)
        self.tap(phone, 0)
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text)
        self.server.stop()
        wait(phone, lambda d: "Offline" in d.find_element(By.ID, "connection").text)
        self.tap(phone, 2)
        self.server.start()
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text
             and d.find_element(By.ID, "connection").text == "Connected", timeout=30)
        time.sleep(0.5)
        selected = [i.is_selected() for i in phone.find_elements(By.CSS_SELECTOR, "input[name=choice]")]
        self.assertEqual(selected, [False, False, True], "the phone shows the answer the server holds")
        self.assertEqual(self.results(poll)["counts"], [0, 0, 1])

    # 7. Names.
    def test_the_console_shows_who_answered_what_in_an_identified_poll(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Who presents first?", "options": ["Group A", "Group B"],
                          "settings": {"identified": True}})
        for name, option in (("Zoë Ångström", 1), ("Kwame 🦁", 0)):
            phone = self.open("/alice", width=390, height=844, phone=True)
            self.choices(phone, 2)
            phone.find_element(By.ID, "name").send_keys(name)
            self.tap(phone, option)
            wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text)
            self.close(phone)
        console = self.open("/login")
        self.login(console)
        self.select(console, "Who presents first?")
        wait(console, lambda d: "Kwame 🦁" in d.find_element(By.ID, "who-answered").text)
        # Read in one script: the table is redrawn as answers arrive.
        rows = console.execute_script(
            "return [...document.querySelectorAll('#who-answered tbody tr')].map((r) => r.innerText.replace(/\\s+/g, ' '))")
        self.assertTrue(rows[0].startswith("Kwame 🦁 A. Group A"), rows)
        self.assertTrue(rows[1].startswith("Zoë Ångström B. Group B"), rows)
        console.save_screenshot(os.path.join(SHOTS, "console-who-answered.png"))
        # An anonymous poll says it stores no names.
        self.poll({"type": "open", "title": "Anything unclear?"}, activate=False)
        console.refresh()
        self.select(console, "Anything unclear?")
        wait(console, lambda d: "stores no names" in d.find_element(By.ID, "who-answered").text)
        self.assertEqual(poll["settings"]["identified"], True)

    def test_the_console_makes_no_request_per_results_frame(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Which sorting algorithm is stable?",
                          "options": ["Quicksort", "Merge sort", "Heapsort"]})
        token = self.token()
        for _ in range(2):  # three rounds: the console shows every one
            self.server.api("POST", f"/api/polls/{poll['id']}/clear", token)
        console = self.open("/login")
        self.login(console)
        self.select(console)
        wait(console, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rounds .round")) == 3)
        time.sleep(0.5)
        console.execute_script("""
            window.requests = [];
            const real = window.fetch;
            window.fetch = (url, init) => { window.requests.push(String(url)); return real(url, init); };
        """)
        for i in range(20):
            self.server.api("POST", "/api/rooms/alice/answers",
                            body={"participant": os.urandom(16).hex(), "poll": poll["id"], "choices": [i % 3]})
        wait(console, lambda d: "20 responses" in d.find_element(By.ID, "live").text, message="the live panel follows")
        time.sleep(0.5)
        self.assertEqual(console.execute_script("return window.requests"), [],
                         "results frames are drawn as they come: no refetch of the list or of any round")
        # A change of state is one request for the list, not one per round.
        self.server.api("POST", f"/api/polls/{poll['id']}/hide", token)
        wait(console, lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-state .badge.hidden"))
        time.sleep(0.5)
        requests = console.execute_script("return window.requests")
        self.assertEqual(requests, ["/api/polls"], requests)

    # 8. Keyboard on the phone.
    def test_arrow_keys_choose_without_sending_and_space_sends(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Which layer handles routing?",
                          "options": ["Physical", "Data link", "Network", "Transport"],
                          "settings": {"allowChange": False}})
        phone = self.open("/alice", width=390, height=844, phone=True)
        radios = self.choices(phone, 4)
        phone.execute_script("arguments[0].focus()", radios[0])
        radios[0].send_keys(Keys.SPACE)   # Space on the first: chosen and sent? Not yet: it was not chosen
        time.sleep(0.3)
        first = self.results(poll)["counts"]
        if first != [0, 0, 0, 0]:
            self.fail(f"Space on an unchosen radio only chooses it, got {first}")
        active = phone.switch_to.active_element
        active.send_keys(Keys.ARROW_DOWN)
        phone.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
        time.sleep(0.6)
        self.assertEqual(self.results(poll)["counts"], [0, 0, 0, 0], "moving with the arrow keys sends nothing")
        self.assertTrue(radios[2].is_selected())
        self.assertNotIn("Answer received", phone.find_element(By.ID, "feedback").text)
        phone.switch_to.active_element.send_keys(Keys.ENTER)
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text)
        self.assertEqual(self.results(poll)["counts"], [0, 0, 1, 0], "Enter sends the chosen one")
        phone.save_screenshot(os.path.join(SHOTS, "phone-keyboard-390.png"))

    def test_a_tap_still_sends_at_once(self):
        self.serve()
        poll = self.poll({"type": "choice", "title": "Coffee or tea?", "options": ["Coffee ☕", "Tea 🍵"]})
        phone = self.open("/alice", width=390, height=844, phone=True)
        self.choices(phone, 2)
        self.tap(phone, 1)
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text)
        self.assertEqual(self.results(poll)["counts"], [0, 1])

    # 10. Present from the list.
    def test_present_activates_and_opens_the_screen_in_one_click(self):
        self.serve()
        self.poll({"type": "choice", "title": "Warm-up: how was the weekend?", "options": ["🙂", "😐", "🙁"]},
                  activate=False)
        console = self.open("/login")
        self.login(console)
        button = console.find_element(By.XPATH, "//ul[@id='polls']//button[text()='Present']")
        button.click()
        wait(console, lambda d: len(d.window_handles) == 2, message="the screen opens")
        wait(console, lambda d: d.find_elements(By.CSS_SELECTOR, "#polls .badge.active"), message="and the poll is live")
        console.switch_to.window(console.window_handles[1])
        wait(console, lambda d: "/present/alice" in d.current_url)
        wait(console, lambda d: d.find_element(By.ID, "title").text == "Warm-up: how was the weekend?")
        # Full screen needs a gesture in that window: the first click gives it.
        wait(console, lambda d: d.find_elements(By.ID, "go-fullscreen"), message="offers full screen")
        console.find_element(By.ID, "go-fullscreen").click()
        wait(console, lambda d: d.execute_script("return !!document.fullscreenElement"), message="full screen")
        self.assertFalse(console.find_elements(By.ID, "go-fullscreen"))
        self.assertTrue(console.current_url.endswith("/present/alice"), "a reload does not ask again")

    # Accessibility.
    def test_axe_finds_no_serious_violations_on_phone_screen_and_console(self):
        self.serve()
        self.poll({"type": "choice", "title": LONG_QUESTION, "options": OPTIONS,
                   "settings": {"showResultsToParticipants": True, "identified": True}})
        phone = self.open("/alice", width=390, height=844, phone=True)
        self.choices(phone, len(OPTIONS))
        phone.find_element(By.ID, "name").send_keys("Ana")
        self.tap(phone, 1)
        wait(phone, lambda d: d.find_element(By.ID, "results-card").is_displayed())
        self.assertEqual(axe_violations(phone), [], "phone page")
        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: counts(d) and sum(counts(d)) == 1)
        self.assertEqual(axe_violations(screen), [], "screen")
        console = self.open("/login")
        self.assertEqual(axe_violations(console), [], "login page")
        self.login(console)
        self.select(console)
        wait(console, lambda d: "Ana" in d.find_element(By.ID, "who-answered").text)
        self.assertEqual(axe_violations(console), [], "console")
        presenter_screen = self.drivers[-1]
        presenter_screen.get(self.server.url("/present/alice"))
        wait(presenter_screen, lambda d: counts(d) and sum(counts(d)) == 1)
        self.assertEqual(axe_violations(presenter_screen), [], "the presenter's screen with its controls")
        join = self.open("/", width=390, height=844, phone=True)
        self.assertEqual(axe_violations(join), [], "join page")


if __name__ == "__main__":
    unittest.main()

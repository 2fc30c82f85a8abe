"""Real-browser tests of the three web clients, in headless Chromium via selenium.

Runs against the built `pollcast` binary on 127.0.0.1 with its own data folder.
Screenshots go to test-output/screenshots/ (not committed).
Run: /usr/bin/python3 -m unittest discover -s Tests/browser -v
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("POLLCAST_BINARY", os.path.join(ROOT, ".build", "debug", "pollcast"))
SHOTS = os.path.join(ROOT, "test-output", "screenshots")
PASSWORD = "correct horse battery"
# Real content for many options: the first 26 elements.
TWENTY_SIX = [f"{name} ({symbol})" for name, symbol in [
    ("Hydrogen", "H"), ("Helium", "He"), ("Lithium", "Li"), ("Beryllium", "Be"), ("Boron", "B"), ("Carbon", "C"),
    ("Nitrogen", "N"), ("Oxygen", "O"), ("Fluorine", "F"), ("Neon", "Ne"), ("Sodium", "Na"), ("Magnesium", "Mg"),
    ("Aluminium", "Al"), ("Silicon", "Si"), ("Phosphorus", "P"), ("Sulfur", "S"), ("Chlorine", "Cl"), ("Argon", "Ar"),
    ("Potassium", "K"), ("Calcium", "Ca"), ("Scandium", "Sc"), ("Titanium", "Ti"), ("Vanadium", "V"),
    ("Chromium", "Cr"), ("Manganese", "Mn"), ("Iron", "Fe")]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A pollcast process on a fixed port (so it can be restarted on the same one)."""

    def __init__(self, data, port):
        self.data, self.port, self.process = data, port, None

    def start(self):
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--host", "127.0.0.1", "--data", self.data,
             "--web", os.path.join(ROOT, "web"), "--tick-ms", "50"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        assert "listening" in line, line

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, method, path, token=None, body=None):
        request = urllib.request.Request(self.url(path), method=method,
                                         data=None if body is None else json.dumps(body).encode())
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as reply:
            text = reply.read()
            return json.loads(text) if text else None


def browser(width=1280, height=900, phone=False):
    options = webdriver.ChromeOptions()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument("--disable-dev-shm-usage")
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0},
            "userAgent": "Mozilla/5.0 (Linux; Android 14) Mobile"})
    else:
        options.add_argument(f"--window-size={width},{height}")
    # Debian's chromedriver, never a downloaded one.
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, condition, timeout=15, message=""):
    # A page that redraws replaces elements between finding and reading them: try again.
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d), message)


def counts(driver):
    """The counts the page's figures table shows, in option order."""
    cells = driver.find_elements(By.CSS_SELECTOR, "table.figures td[data-count]")
    return [int(c.get_attribute("data-count")) for c in cells]


class BrowserSession:
    """What every browser test does with its server: open pages, log alice in, get a token.
    Needs `self.server` and `self.drivers`."""

    def open(self, path, **kwargs):
        d = browser(**kwargs)
        self.drivers.append(d)
        d.get(self.server.url(path))
        return d

    def login(self, driver, password=PASSWORD):
        driver.get(self.server.url("/login"))
        wait(driver, lambda d: d.find_element(By.ID, "username").is_displayed())
        driver.find_element(By.ID, "username").send_keys("alice")
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
        wait(driver, lambda d: d.current_url.endswith("/admin"), message="login lands on /admin")
        wait(driver, lambda d: d.find_element(By.ID, "who").text == "alice")

    def token(self):
        return self.server.api("POST", "/api/login", body={"username": "alice", "password": PASSWORD})["token"]

    def create_and_activate(self, console, title, options):
        """In a logged-in console: a new choice poll, activated."""
        console.find_element(By.ID, "new-poll").click()
        console.find_element(By.ID, "f-title").send_keys(title)
        console.find_element(By.ID, "f-options").send_keys("\n".join(options))
        console.find_element(By.CSS_SELECTOR, "#poll-form button[type=submit]").click()
        wait(console, lambda d: "Poll created" in d.find_element(By.ID, "status").text)
        console.find_element(By.XPATH, "//ul[@id='polls']//button[text()='Activate']").click()
        wait(console, lambda d: d.find_elements(By.CSS_SELECTOR, "#polls .badge.active"), message="poll active")

    def tap(self, phone, option):
        """On a phone's page: taps an option and waits for the ack."""
        wait(phone, lambda d: len(d.find_elements(By.CSS_SELECTOR, "label.choice")) > option, message="choices shown")
        phone.find_elements(By.CSS_SELECTOR, "label.choice")[option].click()
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text, message="answer acked")


class PagesTest(BrowserSession, unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="pollcast-browser-")
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", self.data],
                       check=True, stdout=subprocess.DEVNULL)
        self.server = Server(self.data, free_port())
        self.server.start()
        self.drivers = []
        os.makedirs(SHOTS, exist_ok=True)

    def tearDown(self):
        for d in self.drivers:
            d.quit()
        self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    def answer(self, phone, option):
        self.tap(phone, option)

    def test_presenter_creates_activates_and_the_screen_counts_three_phones(self):
        console = self.open("/login")
        self.login(console)
        self.create_and_activate(console, "Which planet is largest?", ["Mars", "Jupiter", "Venus"])

        screen = self.open("/present/alice", width=1920, height=1080)
        wait(screen, lambda d: d.find_element(By.ID, "title").text == "Which planet is largest?")
        self.assertTrue(screen.find_element(By.ID, "qr").get_attribute("src").endswith("/qr/alice.svg"))
        self.assertIn(f"127.0.0.1:{self.server.port}/alice", screen.find_element(By.ID, "join-url").text)

        for option in (1, 1, 2):
            phone = self.open("/alice", width=360, height=740, phone=True)
            self.answer(phone, option)
            phone.save_screenshot(os.path.join(SHOTS, "participant-360.png"))
            phone.quit()
            self.drivers.remove(phone)
        wait(screen, lambda d: counts(d) == [0, 2, 1], message="the screen shows 0, 2, 1")
        self.assertEqual(screen.find_element(By.ID, "total").text, "3 responses")
        bars = [b.text for b in screen.find_elements(By.CSS_SELECTOR, ".bar-value")]
        self.assertEqual(bars, ["0", "2", "1"])
        time.sleep(0.6)  # let the bars finish their transition for the picture
        screen.save_screenshot(os.path.join(SHOTS, "screen-1920x1080.png"))
        console.save_screenshot(os.path.join(SHOTS, "console.png"))

    def test_hide_show_lock_and_clear_reach_screen_and_phones(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "choice", "title": "Ready?", "options": ["Yes", "No"]})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        phone = self.open("/alice", width=360, height=740, phone=True)
        self.answer(phone, 0)
        screen = self.open("/present/alice", width=1920, height=1080)
        wait(screen, lambda d: counts(d) == [1, 0])

        # The presenter's own screen drives the controls with the keyboard.
        presenter = self.open("/login")
        self.login(presenter)
        presenter.get(self.server.url("/present/alice"))
        wait(presenter, lambda d: d.find_element(By.ID, "shortcuts").is_displayed(), message="shortcuts shown to the presenter")
        self.assertFalse(screen.find_element(By.ID, "shortcuts").is_displayed(), "no shortcuts without the presenter's login")
        wait(presenter, lambda d: counts(d) == [1, 0])
        presenter.find_element(By.TAG_NAME, "body").send_keys("h")
        wait(screen, lambda d: "Responses hidden" in d.find_element(By.ID, "badges").text, message="hidden badge")
        wait(screen, lambda d: not d.find_elements(By.CSS_SELECTOR, "table.figures"), message="no table while hidden")
        source = screen.page_source
        self.assertNotIn("data-count", source)
        self.assertNotIn("bar-value", source)
        self.assertIn("1 response", screen.find_element(By.ID, "results").text, "the respondent count may show")
        screen.save_screenshot(os.path.join(SHOTS, "screen-hidden.png"))

        presenter.find_element(By.TAG_NAME, "body").send_keys("h")
        wait(screen, lambda d: counts(d) == [1, 0], message="show brings the counts back")

        presenter.find_element(By.TAG_NAME, "body").send_keys("l")
        wait(phone, lambda d: d.find_element(By.ID, "answer-fields").get_attribute("disabled") is not None,
             message="lock disables the phone's buttons")
        self.assertIn("closed", phone.find_element(By.ID, "badges").text)
        wait(screen, lambda d: "Responses closed" in d.find_element(By.ID, "badges").text)
        presenter.find_element(By.TAG_NAME, "body").send_keys("l")
        wait(phone, lambda d: d.find_element(By.ID, "answer-fields").get_attribute("disabled") is None)

        presenter.find_element(By.TAG_NAME, "body").send_keys("c")
        presenter.find_element(By.CSS_SELECTOR, "#confirm-clear button[value=clear]").click()
        wait(screen, lambda d: "Round 2" in d.find_element(By.ID, "badges").text, message="new round")
        wait(screen, lambda d: counts(d) == [0, 0] or not d.find_elements(By.CSS_SELECTOR, ".bar-value") or
             [b.text for b in d.find_elements(By.CSS_SELECTOR, ".bar-value")] == ["0", "0"], message="chart reset")
        wait(phone, lambda d: not any(i.is_selected() for i in d.find_elements(By.CSS_SELECTOR, "input[name=choice]")),
             message="the phone starts the new round empty")

    def test_phone_survives_a_restart_and_its_pending_answer_lands(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "choice", "title": "Q", "options": ["a", "b", "c"]})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        phone = self.open("/alice", width=360, height=740, phone=True)
        wait(phone, lambda d: d.find_element(By.ID, "connection").text == "Connected")
        self.server.stop()
        wait(phone, lambda d: "Offline" in d.find_element(By.ID, "connection").text, message="shows it is offline")
        phone.find_elements(By.CSS_SELECTOR, "label.choice")[2].click()
        wait(phone, lambda d: "offline" in d.find_element(By.ID, "feedback").text.lower(), message="answer kept")
        phone.save_screenshot(os.path.join(SHOTS, "participant-offline.png"))
        self.server.start()
        wait(phone, lambda d: "Answer received" in d.find_element(By.ID, "feedback").text, timeout=30,
             message="reconnects and resends")
        results = self.server.api("GET", f"/api/polls/{poll['id']}/results", self.token())
        self.assertEqual(results["counts"], [0, 0, 1])
        phone.refresh()
        wait(phone, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=choice]") and
             d.find_elements(By.CSS_SELECTOR, "input[name=choice]")[2].is_selected(),
             message="a reload shows what was answered")

    def test_console_hides_an_open_response_from_the_screen(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "open", "title": "What did you think?"})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        for text in ["loved it", "this class is dumb"]:
            self.server.api("POST", "/api/rooms/alice/answers",
                            body={"participant": os.urandom(16).hex(), "poll": poll["id"], "text": text})
        screen = self.open("/present/alice", width=1920, height=1080)
        wait(screen, lambda d: "this class is dumb" in d.find_element(By.ID, "results").text)
        console = self.open("/login")
        self.login(console)
        console.find_element(By.XPATH, "//button[@class='poll-title' and text()='What did you think?']").click()
        wait(console, lambda d: "this class is dumb" in d.find_element(By.ID, "live").text)
        row = console.find_element(By.XPATH, "//div[@id='live']//li[span[text()='this class is dumb']]")
        row.find_element(By.TAG_NAME, "button").click()
        wait(screen, lambda d: "this class is dumb" not in d.find_element(By.ID, "results").text,
             message="hidden from the screen")
        self.assertIn("loved it", screen.find_element(By.ID, "results").text)
        self.assertIn("2 responses", screen.find_element(By.ID, "results").text, "still counted")
        wait(console, lambda d: d.find_elements(By.CSS_SELECTOR, "#live li.moderated"), message="listed as hidden")
        console.find_element(By.CSS_SELECTOR, "#live li.moderated button").click()
        wait(screen, lambda d: "this class is dumb" in d.find_element(By.ID, "results").text, message="shown again")

    def test_console_goes_to_login_when_its_session_ends_elsewhere(self):
        console = self.open("/login")
        self.login(console)
        session = console.get_cookie("pollcast_session")["value"]
        self.server.api("POST", "/api/logout", session)  # the same session, ended from elsewhere
        wait(console, lambda d: d.current_url.endswith("/login"), message="the console sends the presenter to log in")

    def test_screen_keeps_up_with_heavy_legal_answers(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "open", "title": "Describe today's lab in emoji 🔬"})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        screen = self.open("/present/alice", width=1280, height=720)
        heavy = ["🇺🇦" * 139, '"/\\' * 93, ("e" + "\u0301" * 11) * 48, "🧪🔥 great lab, more please 👩‍🔬👨‍🔬"]
        for i in range(60):
            self.server.api("POST", "/api/rooms/alice/answers",
                            body={"participant": os.urandom(16).hex(), "poll": poll["id"], "text": heavy[i % 4] + str(i % 10)})
        self.server.api("POST", "/api/rooms/alice/answers",
                        body={"participant": os.urandom(16).hex(), "poll": poll["id"], "text": "the last one ✅"})
        wait(screen, lambda d: "the last one ✅" in d.find_element(By.ID, "results").text,
             message="the screen still gets every change")
        self.assertIn("61", screen.find_element(By.ID, "results").text)
        screen.save_screenshot(os.path.join(SHOTS, "screen-heavy-1280x720.png"))

    def test_participant_page_fits_360px_without_horizontal_scroll(self):
        token = self.token()
        hostile = self.server.api("POST", "/api/polls", token, {
            "type": "choice", "title": "<img src=x id=injected> & <b>bold</b>",
            "options": ["<script>window.pwned=1</script>", "ok"]})
        self.server.api("POST", f"/api/polls/{hostile['id']}/activate", token)
        phone = self.open("/alice", width=360, height=740, phone=True)
        wait(phone, lambda d: d.find_element(By.ID, "title").text == "<img src=x id=injected> & <b>bold</b>",
             message="titles are text, never markup")
        self.assertFalse(phone.find_elements(By.ID, "injected"))
        self.assertFalse(phone.find_elements(By.CSS_SELECTOR, "#title b"))
        self.assertIsNone(phone.execute_script("return window.pwned"))
        self.assertIn("<script>", phone.find_elements(By.CSS_SELECTOR, "label.choice")[0].text)

        poll = self.server.api("POST", "/api/polls", token, {
            "type": "choice", "title": "A long question " * 6,
            "options": ["An option with a rather long label that must wrap", "Short", "Supercalifragilisticexpialidocious"],
            "settings": {"showResultsToParticipants": True}})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        wait(phone, lambda d: d.find_element(By.ID, "title").text.startswith("A long question"))
        self.answer(phone, 0)
        wait(phone, lambda d: d.find_element(By.ID, "results-card").is_displayed(), message="results shown")
        width, inner = phone.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        self.assertEqual(inner, 360)
        self.assertLessEqual(width, inner, "no horizontal scroll at 360 px")
        labels = phone.find_elements(By.CSS_SELECTOR, "label.choice")
        self.assertTrue(all(l.size["height"] >= 44 for l in labels), "touch targets of 44 px or more")
        phone.save_screenshot(os.path.join(SHOTS, "participant-360-results.png"))


if __name__ == "__main__":
    unittest.main()

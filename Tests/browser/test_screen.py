"""The projected screen (/present/{user}) as a lecture hall sees it, in headless Chromium.

Each test here replays something that broke a real lesson: a question that did not fit,
charts that drew nothing, a stray "null", presenter chrome shown to the audience, and a
screen that froze after a server restart. Screenshots go to test-output/screenshots/.
Run: POLLCAST_BINARY=... /usr/bin/python3 -m unittest Tests/browser/test_screen.py -v
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pages import BINARY, PASSWORD, ROOT, SHOTS, Server, browser, free_port, wait  # noqa: E402,F401

# The question a teacher really asked: five lines, about 300 characters.
LONG_TITLE = (
    "Before the lab: think back to yesterday's video of the pendulum.\n"
    "Nobody touched it, the room was closed and the air was still,\n"
    "and yet after ten minutes it had almost stopped swinging.\n"
    "Which explanation would you defend in front of the class?\n"
    "You can change your answer until I close the poll."
)
LONG_OPTION = ("Friction at the pivot and drag from the air both take a little energy on every swing, "
               "until none is left to move it")
EMOJI_OPTION = "🍕🍕 Pizza party 🎉"
LESSON_OPTIONS = ["Gravity gets weaker over time", LONG_OPTION, "Someone stopped it when we were not looking",
                  EMOJI_OPTION, "The string stretched", "I am not sure yet"]
MANY_OPTIONS = [LONG_OPTION, EMOJI_OPTION] + [f"Option number {i + 3} with a few words" for i in range(24)]


def counts(driver):
    """The counts in the figures table, read in one script (a re-render between reads is no error)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('table.figures td[data-count]'), (c) => Number(c.dataset.count))")


def settings(chart="bar", percent=False, correct=()):
    return {"maxChoices": 1, "chart": chart, "showPercent": percent, "allowChange": True,
            "showResultsToParticipants": False, "identified": False, "correct": list(correct)}


# Whether the page scrolls, and which of the given elements leave the viewport or clip their text.
LAYOUT_PROBLEMS = """
const [selectors] = arguments;
const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
const problems = [];
const root = document.scrollingElement;
if (root.scrollHeight > vh + 1 || root.scrollWidth > vw + 1) {
  problems.push(`the page scrolls: ${root.scrollWidth}x${root.scrollHeight} in ${vw}x${vh}`);
}
for (const selector of selectors) {
  const nodes = document.querySelectorAll(selector);
  if (!nodes.length) problems.push(`${selector}: none on the page`);
  nodes.forEach((node, i) => {
    const r = node.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) problems.push(`${selector}[${i}] has no size`);
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5) {
      problems.push(`${selector}[${i}] leaves the viewport: ${Math.round(r.left)},${Math.round(r.top)} `
        + `${Math.round(r.right)},${Math.round(r.bottom)} in ${vw}x${vh}`);
    }
    if (node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1) {
      problems.push(`${selector}[${i}] clips its content`);
    }
  });
}
return problems;
"""

# Every rendered text node of the page that a sighted person can see (not the figures table
# kept for screen readers).
VISIBLE_TEXT = """
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const texts = [];
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!node.textContent.trim() || parent.closest("table.figures, .visually-hidden, script, style, dialog:not([open])")) continue;
  if (!parent.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
  texts.push(node.textContent);
}
return texts;
"""


# Adds a billion to every seq the page's first WebSocket receives.
SEQ_FROM_A_LONG_RUN = """
(() => {
  const Native = window.WebSocket;
  let sockets = 0;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (++sockets > 1) return;
      const add = this.addEventListener.bind(this);
      this.addEventListener = (type, listener, options) => add(type, type !== "message" ? listener : (event) => {
        const message = JSON.parse(event.data);
        if (typeof message.seq === "number") message.seq += 1e9;
        listener(new MessageEvent("message", { data: JSON.stringify(message) }));
      }, options);
    }
  };
})();
"""


class ScreenTest(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="pollcast-screen-")
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", self.data],
                       check=True, stdout=subprocess.DEVNULL)
        self.server = Server(self.data, free_port())
        self.server.start()
        self.drivers = []
        self.token = self.server.api("POST", "/api/login", body={"username": "alice", "password": PASSWORD})["token"]
        os.makedirs(SHOTS, exist_ok=True)

    def tearDown(self):
        for d in self.drivers:
            d.quit()
        self.server.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    # Helpers

    def open(self, path, width=1920, height=1080, logged_in=False, before_load=None):
        """A browser whose viewport is exactly width x height (a projector, or an embed's frame)."""
        d = browser(width=width, height=height)
        self.drivers.append(d)
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        if before_load:
            d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
        if logged_in:
            d.get(self.server.url("/login"))
            d.find_element(By.ID, "username").send_keys("alice")
            d.find_element(By.ID, "password").send_keys(PASSWORD)
            d.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
            wait(d, lambda d: d.current_url.endswith("/admin"), message="login lands on /admin")
        d.get(self.server.url(path))
        return d

    def poll(self, title, options=None, kind="choice", active=True, **chart):
        body = {"type": kind, "title": title}
        if kind == "choice":
            body["options"] = options
            body["settings"] = settings(**chart)
        poll = self.server.api("POST", "/api/polls", self.token, body)
        if active:
            self.server.api("POST", f"/api/polls/{poll['id']}/activate", self.token)
        return poll

    def answer(self, poll, **answer):
        self.server.api("POST", "/api/rooms/alice/answers",
                        body={"participant": os.urandom(16).hex(), "poll": poll["id"], **answer})

    def vote(self, poll, tally):
        for option, n in enumerate(tally):
            for _ in range(n):
                self.answer(poll, choices=[option])

    def select_in_console(self, console, title):
        """Clicks a poll in the console's list (which may re-render while we look for it)."""
        def click(d):
            try:
                d.find_element(By.XPATH, f"//button[@class='poll-title' and text()='{title}']").click()
                return True
            except (NoSuchElementException, StaleElementReferenceException):
                return False
        wait(console, click, message=f"{title} in the console")

    def shot(self, driver, name):
        time.sleep(0.6)  # bars and fonts settle (transitions, the fitting pass)
        driver.save_screenshot(os.path.join(SHOTS, name))

    def assert_fits(self, driver, selectors, what):
        problems = driver.execute_script(LAYOUT_PROBLEMS, selectors)
        self.assertEqual(problems, [], what)

    def visible_controls(self, driver):
        """Presenter chrome a person could see: buttons, the shortcut help, the presenter bar."""
        return [e.get_attribute("id") or e.text for e in
                driver.find_elements(By.CSS_SELECTOR, "button, #shortcuts, #presenter, [role=toolbar]")
                if e.is_displayed()]

    # 1. A real question fits every screen

    def test_a_real_question_fits_the_projector_and_the_embed(self):
        lesson = self.poll(LONG_TITLE, LESSON_OPTIONS)
        self.vote(lesson, [1, 5, 0, 3, 1, 2])
        cases = [("/present/alice", 1920, 1080, "screen-1920x1080.png"),
                 ("/present/alice", 1280, 720, "screen-1280x720.png"),
                 ("/present/alice?embed=1", 1280, 720, "embed-1280x720.png"),
                 ("/present/alice?embed=1", 960, 540, "embed-960x540.png")]
        for path, width, height, name in cases:
            with self.subTest(path=path, size=f"{width}x{height}"):
                screen = self.open(path, width, height)
                wait(screen, lambda d: counts(d) == [1, 5, 0, 3, 1, 2], message="the lesson's counts")
                self.shot(screen, name)
                self.assert_fits(screen, ["#title", ".bar-row", ".bar-label", ".bar-value", "#qr", "#join-url"],
                                 f"the lesson poll at {width}x{height}")
                rows = screen.find_elements(By.CSS_SELECTOR, ".bar-row")
                # The chart uses the screen: no empty bottom half.
                self.assertGreater(rows[-1].rect["y"] + rows[-1].rect["height"], 0.7 * height,
                                   "the chart reaches down the screen")
                # Labels get room to read; the 120-character one is not a tall narrow column.
                label = screen.find_elements(By.CSS_SELECTOR, ".bar-label")[1]
                size = float(label.value_of_css_property("font-size").rstrip("px"))
                self.assertGreaterEqual(size, height / 45, "labels readable from the back")
                self.assertLessEqual(label.rect["height"], 3.5 * 1.25 * size, "the long label takes 3 lines at most")
                title = float(screen.find_element(By.ID, "title").value_of_css_property("font-size").rstrip("px"))
                self.assertGreaterEqual(title, height / 40, "the question is readable from the back")
                qr = screen.find_element(By.ID, "qr")
                self.assertTrue(screen.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", qr))
                self.assertGreaterEqual(qr.rect["width"], height / 8, "the QR code is big enough to scan")
                screen.quit()
                self.drivers.remove(screen)

    def test_twenty_six_options_fit_without_scrolling(self):
        poll = self.poll(LONG_TITLE, MANY_OPTIONS)
        tally = [(i * 7) % 5 for i in range(26)]
        self.vote(poll, tally)
        for path, width, height, name in [("/present/alice", 1920, 1080, "screen-26-1920x1080.png"),
                                          ("/present/alice", 1280, 720, "screen-26-1280x720.png"),
                                          ("/present/alice?embed=1", 960, 540, "embed-26-960x540.png")]:
            with self.subTest(size=f"{width}x{height}"):
                screen = self.open(path, width, height)
                wait(screen, lambda d: counts(d) == tally, message="26 counts")
                self.shot(screen, name)
                self.assert_fits(screen, ["#title", ".bar-row", ".bar-label", ".bar-value", "#qr", "#join-url"],
                                 f"26 options at {width}x{height}")
                size = float(screen.find_element(By.CSS_SELECTOR, ".bar-label").value_of_css_property("font-size")
                             .rstrip("px"))
                self.assertGreaterEqual(size, 9, "still legible")
                screen.quit()
                self.drivers.remove(screen)

    # 2. Every chart type draws

    def test_every_chart_type_draws_with_sizes_and_labels(self):
        tally = [3, 1, 0, 2]
        options = ["Mercury", EMOJI_OPTION, "Venus", "Jupiter"]
        screen = self.open("/present/alice", 1280, 720)
        for chart in ("bar", "column", "pie", "donut"):
            with self.subTest(chart=chart):
                poll = self.poll(f"Which planet? ({chart})", options, chart=chart)
                self.vote(poll, tally)
                wait(screen, lambda d: counts(d) == tally, message=f"{chart}: counts")
                self.shot(screen, f"chart-{chart}.png")
                if chart in ("bar", "column"):
                    fills = screen.find_elements(By.CSS_SELECTOR, ".bar-fill")
                    sizes = [f.rect["width" if chart == "bar" else "height"] for f in fills]
                    self.assertEqual([s > 2 for s in sizes], [n > 0 for n in tally], f"{chart} sizes {sizes}")
                    self.assertGreater(sizes[0], 2 * sizes[1], "3 draws bigger than 1")
                    labels = [e.text for e in screen.find_elements(By.CSS_SELECTOR, ".bar-label")]
                    self.assertTrue(all(o in l for o, l in zip(options, labels)), labels)
                    values = [e.text for e in screen.find_elements(By.CSS_SELECTOR, ".bar-value")]
                    self.assertEqual(values, ["3", "1", "0", "2"])
                else:
                    slices = screen.find_elements(By.CSS_SELECTOR, f".chart-{chart} path.slice")
                    self.assertEqual(len(slices), 3, "one slice per non-zero count")
                    self.assertTrue(all(s.rect["width"] > 10 and s.rect["height"] > 10 for s in slices))
                    legend = [e.text for e in screen.find_elements(By.CSS_SELECTOR, f".chart-{chart} .legend li")]
                    self.assertEqual(len(legend), 4, legend)
                    for key, option, value, line in zip("ABCD", options, tally, legend):
                        self.assertIn(key, line)
                        self.assertIn(option, line)
                        self.assertIn(str(value), line)
                self.assert_fits(screen, ["#title", "#results .chart", "#qr"], f"{chart} fits")

        # The console draws columns too (the same code).
        poll = self.poll("Columns in the console", ["Yes", "No"], chart="column")
        self.vote(poll, [2, 1])
        console = self.open("/admin", 1280, 900, logged_in=True)
        self.select_in_console(console, "Columns in the console")
        wait(console, lambda d: [f.rect["height"] > 2 for f in d.find_elements(By.CSS_SELECTOR, "#live .bar-fill")]
             == [True, True], message="console columns have height")

    # 3. No stray "null", the count once

    def test_no_null_and_the_count_once(self):
        choice = self.poll("Ready?", ["Yes", "No"], active=False)
        cloud = self.poll("One word for today", kind="wordcloud", active=False)
        opened = self.poll("What did you think?", kind="open", active=False)
        pages = [("/present/alice", 1280, 720, False), ("/present/alice?embed=1", 960, 540, False),
                 ("/admin", 1280, 900, True)]
        drivers = [(self.open(path, w, h, logged_in=login), path) for path, w, h, login in pages]
        for poll, answers, expected in [(opened, [{"text": "loved it"}, {"text": "too fast"}], "2 responses"),
                                        (cloud, [{"words": ["fun"]}, {"words": ["fun", "hard"]}, {"words": ["ok"]}],
                                         "3 responses"),
                                        (choice, [{"choices": [0]}], "1 response")]:
            self.server.api("POST", f"/api/polls/{poll['id']}/activate", self.token)
            for a in answers:
                self.answer(poll, **a)
            for d, path in drivers:
                with self.subTest(poll=poll["type"], page=path):
                    if path == "/admin":
                        d.refresh()
                        self.select_in_console(d, poll["title"])
                    try:
                        wait(d, lambda d: any(expected in t for t in d.execute_script(VISIBLE_TEXT)),
                             message=f"{expected} shown")
                    except Exception:
                        d.save_screenshot(os.path.join(SHOTS, "debug-null.png"))
                        raise AssertionError(f"{expected} not shown on {path}: {d.execute_script(VISIBLE_TEXT)}")
                    texts = d.execute_script(VISIBLE_TEXT)
                    self.assertNotIn("null", [t.strip() for t in texts])
                    self.assertFalse(any("null" in t for t in texts), texts)
                    if path == "/admin":  # the live results (each earlier round has its own count below)
                        texts = d.execute_script(VISIBLE_TEXT.replace("document.body", "document.getElementById('live')"))
                    shown = sum(t.count(expected.split()[0] + " response") for t in texts)
                    self.assertEqual(shown, 1, f"the count once on {path}: {texts}")

    # 4 and 5. Presenter chrome for the presenter only; controls work by mouse and keyboard

    def test_the_audience_sees_no_presenter_chrome(self):
        self.poll("Ready?", ["Yes", "No"], correct=[0])
        # A logged-out screen, the owner's embed and a stranger: nothing to click, no help.
        audience = self.open("/present/alice", 1280, 720)
        wait(audience, lambda d: d.find_element(By.ID, "title").text == "Ready?")
        embed = self.open("/present/alice?embed=1", 960, 540, logged_in=True)
        wait(embed, lambda d: d.find_element(By.ID, "title").text == "Ready?")
        for d in (audience, embed):
            time.sleep(0.5)  # the presenter check has answered
            ActionChains(d).move_by_offset(300, 300).move_by_offset(20, 20).perform()
            d.find_element(By.TAG_NAME, "body").send_keys("?")
            self.assertEqual(self.visible_controls(d), [], "no presenter chrome for the audience or in an embed")
            self.assertNotIn("Round", d.find_element(By.TAG_NAME, "body").text)
        self.shot(audience, "screen-audience.png")

        # The join address wraps only between its parts, never inside "alice".
        url = audience.find_element(By.ID, "join-url")
        self.assertTrue(url.text.replace("\n", "").endswith("/alice"))
        broken = audience.execute_script("""
            const url = arguments[0]; const broken = [];
            const walker = document.createTreeWalker(url, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const range = document.createRange(); range.selectNodeContents(n);
              const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
              if (lines.size > 1) broken.push(n.textContent);
            }
            return broken;""", url)
        self.assertEqual(broken, [], "no part of the join address is split across lines")

    def test_the_presenter_drives_the_screen_by_mouse_and_keyboard(self):
        first = self.poll("First question", ["Yes", "No"], active=False)
        poll = self.poll("Which is a planet?", ["Mars", "Moon", "Sun"], correct=[0])
        self.vote(poll, [2, 1, 0])
        audience = self.open("/present/alice", 1280, 720)
        wait(audience, lambda d: counts(d) == [2, 1, 0])
        screen = self.open("/present/alice", 1280, 720, logged_in=True)
        wait(screen, lambda d: counts(d) == [2, 1, 0])
        body = screen.find_element(By.TAG_NAME, "body")

        def button(name):
            ActionChains(screen).move_to_element(body).move_by_offset(5, 5).perform()  # chrome shows on mouse move
            b = screen.find_element(By.XPATH, f"//nav[@id='presenter']//button[normalize-space()='{name}']")
            wait(screen, lambda d: b.is_displayed(), message=f"{name} shown to the presenter")
            return b

        # Mouse: hide and show.
        button("Hide results").click()
        wait(audience, lambda d: "Responses hidden" in d.find_element(By.ID, "badges").text, message="hidden")
        self.assertFalse(audience.find_elements(By.CSS_SELECTOR, "table.figures"))
        self.shot(screen, "screen-presenter-chrome.png")
        button("Show results").click()
        wait(audience, lambda d: counts(d) == [2, 1, 0], message="shown again")

        # Chart type and counts/percent change live for everyone (the display route).
        button("Pie").click()
        wait(audience, lambda d: d.find_elements(By.CSS_SELECTOR, ".chart-pie path.slice"), message="pie for all")
        button("Bars").click()
        wait(audience, lambda d: d.find_elements(By.CSS_SELECTOR, ".chart-bar .bar-fill"), message="bars again")
        button("Percent").click()
        wait(audience, lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".bar-value")] == ["67%", "33%", "0%"],
             message="percentages")
        button("Counts").click()
        wait(audience, lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".bar-value")] == ["2", "1", "0"])

        # Reveal marks the right answer.
        button("Reveal answer").click()
        wait(audience, lambda d: "correct" in d.find_element(By.CSS_SELECTOR, ".bar-row").get_attribute("class"),
             message="revealed")

        # Keyboard only: Tab to "Close responses", Enter.
        for _ in range(30):
            if screen.switch_to.active_element.text.strip() == "Close responses":
                break
            screen.switch_to.active_element.send_keys(Keys.TAB)
        self.assertEqual(screen.switch_to.active_element.text.strip(), "Close responses", "reachable with Tab")
        self.assertTrue(screen.switch_to.active_element.is_displayed(), "the focused control shows")
        screen.switch_to.active_element.send_keys(Keys.ENTER)
        wait(audience, lambda d: "Responses closed" in d.find_element(By.ID, "badges").text, message="locked")
        banner = audience.find_element(By.ID, "badges")
        self.assertGreaterEqual(banner.size["height"], 720 / 14, "closed is a banner, not a tiny pill")
        self.shot(audience, "screen-locked.png")
        button("Open responses").click()
        wait(audience, lambda d: "Responses closed" not in d.find_element(By.ID, "badges").text)

        # Clear asks first, then starts round 2: the presenter sees the round, the audience not for long.
        button("Clear…").click()
        screen.find_element(By.CSS_SELECTOR, "#confirm-clear button[value=clear]").click()
        wait(screen, lambda d: "Round 2" in d.find_element(By.ID, "presenter").get_attribute("textContent"))
        wait(audience, lambda d: "Round" not in d.find_element(By.TAG_NAME, "body").text, timeout=20,
             message="the audience is not left with a round badge")

        # Previous poll.
        button("Previous").click()
        wait(audience, lambda d: d.find_element(By.ID, "title").text == first["title"], message="previous poll")

    # 6. A restarted server is the truth

    def test_the_screen_follows_the_server_after_a_restart(self):
        poll = self.poll("Still there?", ["Yes", "No"])
        # Whatever the server does with seq across restarts, the page must take the first
        # frames after a reconnect: here the first connection's frames carry huge seqs, as
        # from a server that had run for long before it restarted and counted from 1 again.
        screen = self.open("/present/alice", 1280, 720, before_load=SEQ_FROM_A_LONG_RUN)
        wait(screen, lambda d: counts(d) == [0, 0])
        for i in range(3):
            self.answer(poll, choices=[0])
            wait(screen, lambda d: counts(d) == [i + 1, 0])
        self.server.stop()
        wait(screen, lambda d: "Reconnecting" in d.find_element(By.ID, "connection").text, message="shows it is offline")
        self.server.start()
        wait(screen, lambda d: d.find_element(By.ID, "connection").text == "", timeout=30, message="back online")
        self.answer(poll, choices=[1])
        wait(screen, lambda d: counts(d) == [3, 1], message="the new answer shows after the restart")

if __name__ == "__main__":
    unittest.main()

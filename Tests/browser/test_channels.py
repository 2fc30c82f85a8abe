"""The seed's other channels in headless Chromium: answers by SMS on the live chart and
the text line on the projector, the phone page and the console.

Run: /usr/bin/python3 -m unittest Tests/browser/test_channels.py -v
"""
import os
import sys
import time
import unittest
import urllib.parse
import urllib.request
import uuid

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_classroom import ServedRoom  # noqa: E402
from test_pages import SHOTS, TWENTY_SIX, counts, wait  # noqa: E402
from test_screen import LAYOUT_PROBLEMS  # noqa: E402

NUMBER = "+15551234567"
QUESTION = "Which gas makes up most of the air you are breathing right now? 🌍"
OPTIONS = ["Oxygen", "Nitrogen", "Argon", "Carbon dioxide"]


def shot(driver, name):
    time.sleep(0.6)  # fonts and bars settle
    driver.save_screenshot(os.path.join(SHOTS, name))


class ChannelsTest(ServedRoom, unittest.TestCase):
    server_options = ["--sms-insecure", "--sms-number", NUMBER, "--public-url", "http://192.168.50.7:8080"]

    def sms(self, sender, body):
        """A text as Twilio posts it (this server runs with --sms-insecure: no signature)."""
        form = urllib.parse.urlencode({"From": sender, "To": NUMBER, "Body": body,
                                       "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC1"}).encode()
        request = urllib.request.Request(self.server.url("/sms/twilio"), data=form, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.read().decode()

    def test_texts_count_on_the_projector_next_to_web_answers(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {"type": "choice", "title": QUESTION, "options": OPTIONS})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)

        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: d.find_element(By.ID, "join-sms").is_displayed(), message="the text line on the screen")
        self.assertEqual(screen.find_element(By.ID, "join-sms").text.replace("\n", " "),
                         f"or text ALICE to {NUMBER}")

        phone = self.open("/alice", width=390, height=844, phone=True)
        wait(phone, lambda d: d.find_element(By.ID, "sms-hint").is_displayed(), message="the text line on the phone")
        self.assertEqual(phone.find_element(By.ID, "sms-hint").text, f"No data? Text ALICE B to {NUMBER}.")
        phone.find_elements(By.CSS_SELECTOR, "label.choice")[1].click()

        self.assertIn("You joined ALICE", self.sms("+15550000001", "alice"))
        self.assertIn("Got it: B.", self.sms("+15550000001", "b"))
        self.assertIn("Got it: A.", self.sms("+15550000002", "ALICE a."))
        wait(screen, lambda d: counts(d) == [1, 2, 0, 0], message="two texts and one tap on the chart")
        problems = screen.execute_script(LAYOUT_PROBLEMS, ["#qr", "#join-url", "#join-sms", "#title", "#chart"])
        self.assertEqual(problems, [], "the projector fits the QR code, the address and the text line")
        shot(screen, "channels-sms-screen-1280x720.png")
        shot(phone, "channels-sms-phone-390.png")

    def test_the_presenter_chooses_a_keyword_in_the_console(self):
        console = self.open("/login")
        self.login(console)
        wait(console, lambda d: d.find_element(By.ID, "sms").is_displayed(), message="the SMS card in the console")
        self.assertEqual(console.find_element(By.ID, "sms-example").text, "ALICE B")
        field = console.find_element(By.ID, "sms-keyword")
        field.clear()
        field.send_keys("bio101")
        console.find_element(By.CSS_SELECTOR, "#sms-form button[type=submit]").click()
        wait(console, lambda d: "BIO101" in d.find_element(By.ID, "sms-status").text, message="keyword saved")
        self.assertEqual(console.find_element(By.ID, "sms-example").text, "BIO101 B")
        shot(console, "channels-sms-console.png")
        self.assertIn("You joined BIO101", self.sms("+15550000003", "Bio101"))
        self.assertIn("Unknown keyword", self.sms("+15550000004", "chem101 b"))
        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: "BIO101" in d.find_element(By.ID, "join-sms").text, message="new keyword on the screen")


class CompareRoundsTest(ServedRoom, unittest.TestCase):
    """Pre/post: the same question at the start and the end of class, compared on the projector."""

    def answer(self, poll, student, choice):
        participant = f"student-{student:02d}-" + "x" * 24
        self.server.api("POST", "/api/rooms/alice/answers",
                        body={"participant": participant, "poll": poll["id"], "choices": [choice]})

    def test_the_projector_compares_the_start_and_the_end_of_class(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {
            "type": "choice",
            "title": "A ball is thrown straight up.\nAt the very top of its path, what is its acceleration?",
            "options": ["Zero: it has stopped", "9.8 m/s² downwards", "9.8 m/s² upwards", "It depends on its mass"],
            "settings": {"correct": [1]}})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        start = [0, 0, 0, 1, 1, 1, 0, 3, 2, 0, 1, 0]    # 4 of 12 right
        for student, choice in enumerate(start):
            self.answer(poll, student, choice)
        self.server.api("POST", f"/api/polls/{poll['id']}/clear", token)
        end = [1, 1, 0, 1, 1, 1, 1, 1, 2, 1, 0]         # 8 of 11 right; one left early
        for student, choice in enumerate(end):
            self.answer(poll, student, choice)

        console = self.open("/login", width=1280, height=900)
        self.login(console)
        wait(console, lambda d: d.find_elements(By.XPATH, "//button[@class='poll-title']"), message="the poll list")
        console.find_element(By.XPATH, "//button[@class='poll-title']").click()
        wait(console, lambda d: d.find_element(By.ID, "compare").is_displayed(), message="the start/end summary")
        body = console.find_element(By.ID, "compare-body").text
        self.assertIn("Right answer: 33% → 73% (+40 pts)", body)
        self.assertIn("Of the 11 people who answered both times: 5 moved from a wrong answer to the right one, "
                      "1 from right to wrong, 3 stayed right, 2 stayed wrong.", body)
        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart .chart-bar"), message="plain bars first")
        button = console.find_element(By.ID, "compare-rounds")
        self.assertEqual(button.get_attribute("aria-pressed"), "false")
        button.click()
        wait(screen, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart .chart-compare"), message="the comparison")
        deltas = [e.text for e in screen.find_elements(By.CSS_SELECTOR, ".compare-row .delta")]
        self.assertEqual(deltas, ["−32 pts", "+40 pts", "+1 pt", "−8 pts"])
        self.assertEqual(screen.find_elements(By.CSS_SELECTOR, ".compare-headline"), [],
                         "the right answer is not on the screen before it is revealed")
        self.server.api("POST", f"/api/polls/{poll['id']}/reveal", token)
        wait(screen, lambda d: "Right answer: 33% → 73% (+40 pts)" in d.find_element(By.ID, "chart").text,
             message="the headline once revealed")
        problems = screen.execute_script(LAYOUT_PROBLEMS, ["#title", "#chart", ".compare-rows", "#qr"])
        self.assertEqual(problems, [], "the comparison fits the projector")
        shot(screen, "compare-screen-1280x720.png")
        wait(console, lambda d: d.find_element(By.ID, "compare-rounds").get_attribute("aria-pressed") == "true",
             message="the console shows the comparison is on")
        shot(console, "compare-console.png")
        # Hidden: the screen shows neither round.
        self.server.api("POST", f"/api/polls/{poll['id']}/hide", token)
        wait(screen, lambda d: not d.find_elements(By.CSS_SELECTOR, ".compare-row"), message="hidden hides both rounds")


    def test_twenty_six_options_compared_fit_the_projector(self):
        token = self.token()
        poll = self.server.api("POST", "/api/polls", token, {
            "type": "choice", "options": TWENTY_SIX, "settings": {"correct": [7]},
            "title": "Which element do you meet most often in a day? Think of breakfast, the bus and your phone 📱"})
        self.server.api("POST", f"/api/polls/{poll['id']}/activate", token)
        for student in range(30):
            self.answer(poll, student, student % 26)
        self.server.api("POST", f"/api/polls/{poll['id']}/clear", token)
        for student in range(30):
            self.answer(poll, student, (student * 3) % 26)
        self.server.api("POST", f"/api/polls/{poll['id']}/display", token, {"compareRounds": True})
        screen = self.open("/present/alice", width=1280, height=720)
        wait(screen, lambda d: d.find_elements(By.CSS_SELECTOR, ".compare-rows.two-up"), message="two columns of 13")
        # One more answer redraws the comparison: it keeps its two columns.
        self.answer(poll, 99, 0)
        wait(screen, lambda d: "31 responses" in d.find_element(By.ID, "total").text, message="the next frame")
        time.sleep(0.5)
        self.assertTrue(screen.find_elements(By.CSS_SELECTOR, ".compare-rows.two-up"))
        problems = screen.execute_script(LAYOUT_PROBLEMS, ["#title", "#chart", ".compare-rows", "#qr"])
        self.assertEqual(problems, [], "26 options compared fit 1280x720")
        shot(screen, "compare-26-screen-1280x720.png")


class SlideEmbedTest(ServedRoom, unittest.TestCase):
    """A deck that embeds `/present/alice?embed=1&poll=ID` on each slide moves the room
    through its questions: the presenter's browser activates the slide's poll."""

    def active(self, token):
        return [p["id"] for p in self.server.api("GET", "/api/polls", token) if p["active"]]

    def test_the_slide_activates_its_poll_for_the_presenter_only(self):
        token = self.token()
        first = self.server.api("POST", "/api/polls", token, {"type": "choice", "title": "Warm-up: ready?",
                                                             "options": ["Yes", "No"]})
        second = self.server.api("POST", "/api/polls", token, {"type": "open", "title": "One question you still have"})
        self.server.api("POST", f"/api/polls/{first['id']}/activate", token)

        # Someone else's browser on the slide of the second poll changes nothing.
        stranger = self.open(f"/present/alice?embed=1&poll={second['id']}", width=960, height=540)
        wait(stranger, lambda d: d.find_element(By.ID, "title").text == "Warm-up: ready?", message="the room as it is")
        time.sleep(1)
        self.assertEqual(self.active(token), [first["id"]])

        presenter = self.open("/login", width=960, height=540)
        self.login(presenter)
        # Opened as a page (a link in a slide, or a link someone sent): a button, never
        # a change by the link alone.
        presenter.get(self.server.url(f"/present/alice?embed=1&poll={second['id']}"))
        wait(presenter, lambda d: d.find_element(By.ID, "open-slide-poll").is_displayed(), message="the offer")
        time.sleep(0.5)
        self.assertEqual(self.active(token), [first["id"]], "a link alone activates nothing")
        presenter.find_element(By.ID, "open-slide-poll").click()
        wait(presenter, lambda d: self.active(token) == [second["id"]], message="the slide's poll is active")
        wait(stranger, lambda d: d.find_element(By.ID, "title").text == "One question you still have",
             message="and every screen shows it")
        self.assertFalse(presenter.find_element(By.ID, "presenter").is_displayed(), "no controls inside a slide")
        # Inside a frame of a same-site page (a slide that embeds the screen), the slide's
        # poll opens as the slide loads.
        presenter.get(self.server.url("/alice"))
        presenter.execute_script(
            "const f = document.createElement('iframe'); f.src = arguments[0]; document.body.append(f);",
            f"/present/alice?embed=1&poll={first['id']}")
        wait(presenter, lambda d: self.active(token) == [first["id"]], message="the framed slide activates its poll")


class NoChannelsTest(ServedRoom, unittest.TestCase):
    """Without SMS configured nothing about it shows anywhere."""

    def test_no_text_line_without_a_number(self):
        screen = self.open("/present/alice", width=1280, height=720)
        phone = self.open("/alice", width=390, height=844, phone=True)
        console = self.open("/login")
        self.login(console)
        # Asserting absence after the answers that would have shown the line came back.
        answered = "return performance.getEntriesByType('resource').some(e => e.name.includes(arguments[0]))"
        wait(screen, lambda d: d.execute_script(answered, "/api/rooms/alice"), message="the screen asked")
        wait(phone, lambda d: d.execute_script(answered, "/api/rooms/alice"), message="the phone asked")
        wait(console, lambda d: d.execute_script(answered, "/api/sms"), message="the console asked")
        time.sleep(0.3)  # and drew what they got
        self.assertFalse(screen.find_element(By.ID, "join-sms").is_displayed())
        self.assertFalse(phone.find_element(By.ID, "sms-hint").is_displayed())
        self.assertFalse(console.find_element(By.ID, "sms").is_displayed())


if __name__ == "__main__":
    unittest.main()

"""Slides and chart images: the .pptx a teacher downloads opens in python-pptx with every
slide, title, option and chart value, and LibreOffice Impress renders one PDF page per
slide (the pages are kept as PNG in test-output/slides/ to be looked at); chart.svg
follows the public screen's rules for anyone but the owner.

Run: /usr/bin/python3 -m unittest Tests/browser/test_slides.py -v
"""
import glob
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
import zipfile
from xml.etree import ElementTree

from pptx import Presentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_classroom import LessonServer  # noqa: E402
from test_pages import BINARY, PASSWORD, ROOT, TWENTY_SIX, free_port  # noqa: E402

OUT = os.path.join(ROOT, "test-output", "slides")
FIVE_LINES = ("A train leaves Lyon at 9:40 and travels north at 120 km/h.\n"
              "A second train leaves Paris, 460 km away, at 10:10, heading south at 160 km/h.\n"
              "Both keep their speed; the stops are too short to count.\n"
              "Ignore the curvature of the track and the time zones.\n"
              "At what time do the two trains pass each other? 🚆")


class SlidesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="pollcast-slides-")
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", cls.data],
                       check=True, stdout=subprocess.DEVNULL)
        cls.server = LessonServer(cls.data, free_port(),
                                  extra=["--public-url", "http://192.168.50.7:8080", "--sms-insecure",
                                         "--sms-number", "+15551234567"])
        cls.server.start()
        cls.token = cls.server.api("POST", "/api/login", body={"username": "alice", "password": PASSWORD})["token"]
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.data, ignore_errors=True)

    def api(self, method, path, body=None, token=True):
        return self.server.api(method, path, self.token if token else None, body)

    def poll(self, body):
        poll = self.api("POST", "/api/polls", body)
        self.api("POST", f"/api/polls/{poll['id']}/activate")
        return poll

    def answer(self, poll, n, **answer):
        body = {"participant": f"student-{n:03d}-" + "y" * 24, "poll": poll["id"], **answer}
        self.server.api("POST", "/api/rooms/alice/answers", body=body)

    def download(self, path):
        request = urllib.request.Request(self.server.url(path), headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.headers, reply.read()

    def build_polls(self):
        trains = self.poll({"type": "choice", "title": FIVE_LINES,
                            "options": ["11:34, north of Dijon", "11:47 🕚", "12:02, as the buffet car opens 🥐",
                                        "They never meet: one of them is always late"],
                            "settings": {"correct": [1]}})
        for n, choice in enumerate([0, 1, 1, 2, 3, 0, 1]):
            self.answer(trains, n, choices=[choice])
        self.api("POST", f"/api/polls/{trains['id']}/clear")
        for n, choice in enumerate([1, 1, 1, 1, 0, 1]):
            self.answer(trains, n, choices=[choice])
        elements = self.poll({"type": "choice", "title": "Which element do you meet most often in a day?",
                              "options": TWENTY_SIX})
        for n in range(40):
            self.answer(elements, n, choices=[(n * 7) % 26])
        cloud = self.poll({"type": "wordcloud", "title": "One word for photosynthesis 🌱"})
        for n, words in enumerate([["sunlight"], ["chlorophyll", "sugar"], ["sunlight", "green"], ["sunlight"]]):
            self.answer(cloud, n, words=words)
        opinion = self.poll({"type": "open", "title": "What should we revise next week? ✍️"})
        for n, text in enumerate(["Vectors 🧭 & forces <again>", "Derivatives, please 🙏🙏", "Everything 😅"]):
            self.answer(opinion, n, text=text)
        return [trains, elements, cloud, opinion]

    def test_the_deck_has_every_slide_title_option_and_chart_value(self):
        polls = self.build_polls()
        ids = ",".join(p["id"] for p in polls)
        headers, deck = self.download(f"/api/export.pptx?polls={ids}&rounds=all")
        self.assertEqual(headers["Content-Type"],
                         "application/vnd.openxmlformats-officedocument.presentationml.presentation")
        self.assertIn("attachment", headers["Content-Disposition"])
        path = os.path.join(OUT, "deck.pptx")
        with open(path, "wb") as f:
            f.write(deck)

        presentation = Presentation(io.BytesIO(deck))
        slides = list(presentation.slides)
        self.assertEqual(len(slides), 2 * len(polls), "a question slide and a results slide per poll")
        for i, poll in enumerate(polls):
            question, results = slides[2 * i], slides[2 * i + 1]
            texts = "\n".join(shape.text_frame.text for shape in question.shapes if shape.has_text_frame)
            self.assertIn(poll["title"], texts)
            self.assertIn("192.168.50.7:8080/alice", texts)
            self.assertIn("or text ALICE to +15551234567", texts)
            for j, option in enumerate(poll["options"]):
                self.assertIn(f"{chr(65 + j)}  {option}", texts)
            self.assertTrue(any(shape.shape_type == 13 for shape in question.shapes), "the QR code picture")
            charts = [shape.chart for shape in results.shapes if shape.has_chart]
            if poll["type"] == "open":
                self.assertEqual(charts, [])
                body = "\n".join(shape.text_frame.text for shape in results.shapes if shape.has_text_frame)
                self.assertIn("“Vectors 🧭 & forces <again>”", body)
                continue
            self.assertEqual(len(charts), 1)
            chart = charts[0]
            current = self.api("GET", f"/api/polls/{poll['id']}")
            rounds = [self.api("GET", f"/api/polls/{poll['id']}/results?round={r}")
                      for r in range(1, current["round"] + 1)]
            series = list(chart.plots[0].series)
            self.assertEqual([s.name for s in series], [f"Round {r}" for r in range(1, current["round"] + 1)])
            if poll["type"] == "choice":
                self.assertEqual(list(chart.plots[0].categories),
                                 [f"{chr(65 + j)}. {o}" for j, o in enumerate(poll["options"])])
                for s, r in zip(series, rounds):
                    self.assertEqual([int(v) for v in s.values], r["counts"])
            else:
                words = dict((w, c) for w, c in rounds[-1]["words"])
                categories = list(chart.plots[0].categories)
                self.assertEqual([int(v) for v in series[-1].values], [words[c] for c in categories])
            # The chart's data is an embedded workbook (PowerPoint's "Edit Data").
            workbook = chart.part.chart_workbook.xlsx_part
            self.assertIsNotNone(workbook, "an embedded workbook")
            with zipfile.ZipFile(io.BytesIO(workbook.blob)) as xlsx:
                sheet = ElementTree.fromstring(xlsx.read("xl/worksheets/sheet1.xml"))
                ns = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
                self.assertEqual(len(sheet.findall(".//s:row", ns)), len(list(chart.plots[0].categories)) + 1)

        # LibreOffice Impress opens it and renders one page per slide.
        profile = tempfile.mkdtemp(prefix="lo-profile-")
        try:
            subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                            "--outdir", OUT, path], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=240)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        pdf = os.path.join(OUT, "deck.pdf")
        info = subprocess.run(["pdfinfo", pdf], check=True, capture_output=True, text=True).stdout
        pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
        self.assertEqual(pages, len(slides))
        subprocess.run(["pdftoppm", "-r", "60", "-png", pdf, os.path.join(OUT, "page")], check=True)
        self.assertEqual(len(glob.glob(os.path.join(OUT, "page-*.png"))), len(slides))

        # One poll alone, latest round only.
        _, single = self.download(f"/api/polls/{polls[0]['id']}/slides.pptx")
        one = Presentation(io.BytesIO(single))
        chart = next(shape.chart for shape in list(one.slides)[1].shapes if shape.has_chart)
        self.assertEqual([s.name for s in chart.plots[0].series], ["Round 2"])

    def test_chart_svg_for_the_owner_and_by_the_screens_rules_for_everyone_else(self):
        poll = self.poll({"type": "choice", "title": "Tea or coffee? ☕", "options": ["Tea", "Coffee", "Neither"]})
        for n, choice in enumerate([0, 1, 1]):
            self.answer(poll, n, choices=[choice])
        _, owner = self.download(f"/api/polls/{poll['id']}/chart.svg")
        svg = ElementTree.fromstring(owner)
        texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("Tea or coffee? ☕", texts)
        self.assertIn("B. Coffee", texts)
        self.assertIn("67%", texts)
        with open(os.path.join(OUT, "chart.svg"), "wb") as f:
            f.write(owner)
        with urllib.request.urlopen(self.server.url(f"/api/polls/{poll['id']}/chart.svg"), timeout=10) as reply:
            self.assertIn(b"B. Coffee", reply.read(), "anyone sees the active poll, as the screen does")
        self.api("POST", f"/api/polls/{poll['id']}/hide")
        with urllib.request.urlopen(self.server.url(f"/api/polls/{poll['id']}/chart.svg"), timeout=10) as reply:
            public = reply.read()
        self.assertIn(b"Responses hidden", public)
        self.assertNotIn(b"Coffee", public, "no option's result while hidden")
        self.assertNotIn(b"67%", public)
        _, owner_hidden = self.download(f"/api/polls/{poll['id']}/chart.svg")
        self.assertIn(b"67%", owner_hidden, "the owner still sees everything")
        self.api("POST", f"/api/polls/{poll['id']}/deactivate")
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(self.server.url(f"/api/polls/{poll['id']}/chart.svg"), timeout=10)
        self.assertEqual(refused.exception.code, 404, "an inactive poll is nobody else's business")


if __name__ == "__main__":
    unittest.main()

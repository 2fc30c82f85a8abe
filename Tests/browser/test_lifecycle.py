"""The `pollcast serve` process as an operator's service manager sees it (no browser).

Run: /usr/bin/python3 -m unittest Tests/browser/test_lifecycle.py -v
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pages import BINARY, PASSWORD, ROOT  # noqa: E402


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="pollcast-lifecycle-")
        subprocess.run([BINARY, "user", "add", "alice", "--password", PASSWORD, "--data", self.data],
                       check=True, stdout=subprocess.DEVNULL)

    def tearDown(self):
        shutil.rmtree(self.data, ignore_errors=True)

    def test_a_stop_signal_during_start_up_drains_and_exits(self):
        # systemd or a teacher's Ctrl-C may come the moment the server says it listens,
        # before it waits for signals: it must still drain and exit 0, never hang or die.
        for attempt in range(8):
            sig = signal.SIGTERM if attempt % 2 else signal.SIGINT
            process = subprocess.Popen(
                [BINARY, "serve", "--port", "0", "--host", "127.0.0.1", "--data", self.data,
                 "--web", os.path.join(ROOT, "web")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.assertIn("listening", process.stdout.readline())
            if attempt >= 4:
                time.sleep(0.3)  # and once it is up
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.fail(f"attempt {attempt}: {sig.name} right after start-up left the server hanging")
            printed = process.stdout.read()
            process.stdout.close()
            self.assertEqual(process.returncode, 0, f"attempt {attempt}: {sig.name} killed it instead of a drain")
            self.assertIn("pollcast stopped", printed)


if __name__ == "__main__":
    unittest.main()

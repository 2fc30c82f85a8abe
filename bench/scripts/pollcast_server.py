"""The release `pollcast` on a free loopback port with a fresh data folder and one
presenter (`alice`), for the scripts beside this file. Use it as a context manager."""
import os
import shutil
import socket
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, ".build", "release", "pollcast")


class PollcastServer:
    def __init__(self, binary=RELEASE, password="a real password"):
        self.binary, self.password = binary, password

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = tempfile.mkdtemp(prefix="pollcast-bench-")
        subprocess.run([self.binary, "user", "add", "alice", "--password", self.password, "--data", self.data],
                       check=True, stdout=subprocess.DEVNULL)
        self.process = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--host", "127.0.0.1", "--data", self.data,
             "--web", os.path.join(ROOT, "web")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert "listening" in self.process.stdout.readline()
        return self

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            return int(next(l for l in status if l.startswith("VmRSS")).split()[1]) / 1024

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=15)
        self.process.stdout.close()
        shutil.rmtree(self.data, ignore_errors=True)

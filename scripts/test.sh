#!/usr/bin/env bash
# The whole test suite: system packages, a build, every test against real servers on
# ephemeral ports, then the concurrent core again under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --test

echo "== format"
swift format lint --strict --recursive Sources Tests bench/Sources Fuzz/Sources

echo "== build"
swift build --build-tests

echo "== tests"
swift test --skip-build --disable-swift-testing

echo "== real-browser tests (headless Chromium)"
/usr/bin/python3 -m unittest discover -s Tests/browser -v

echo "== several nodes: a real PostgreSQL, two nodes, nginx without sticky sessions; compose.yaml checked"
/usr/bin/python3 -m unittest discover -s Tests/cluster -v

echo "== bench smoke run (runs and reports; no timing assertions)"
swift build -c release --product pollcast
(cd bench && swift build -c release && .build/release/pollcast-load smoke | tee /tmp/pollcast-bench-smoke.txt)
grep -q '^RESULT {' /tmp/pollcast-bench-smoke.txt
echo "== reconnect storm: 2,000 dropped at once reconnect; fds and memory return (exit code checks it)"
bench/.build/release/pollcast-load reconnect --target pollcast
echo "== SMS mixed with web answers: every signed text and web answer acked is counted once (exit code checks it)"
/usr/bin/python3 bench/scripts/sms-mix.py --seconds 2

echo "== fuzzing frame and request-body parsing (libFuzzer, 60 s)"
./scripts/fuzz.sh 60

echo "== tests under ThreadSanitizer (core, store, server)"
swift test --sanitize=thread --scratch-path .build-tsan --disable-swift-testing

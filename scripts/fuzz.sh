#!/usr/bin/env bash
# Builds the libFuzzer target (Fuzz/) and fuzzes frame, request-body and HTTP-head parsing for a
# bounded time (default 60 s). The committed corpus in Fuzz/corpus seeds it; new inputs
# go to a scratch folder, so the run changes nothing in the repository. A crash or a
# hang (over 10 s on one input) fails the run and leaves the input in test-output/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
work=$(mktemp -d)
build() {
  (cd Fuzz && swift build --scratch-path ../.build-fuzz --product pollcast-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library) >"$work/build" 2>&1
}
# A failed build says why (the whole log's tail, not three lines of progress); it is
# tried once more, since an instrumented build on a busy 2-core machine once died
# without an error of its own.
if ! build; then
  grep -v "Cannot export local symbol" "$work/build" | tail -30
  echo "fuzz target build failed; trying once more"
  build || { grep -v "Cannot export local symbol" "$work/build" | tail -30; exit 1; }
fi
grep -v "Cannot export local symbol" "$work/build" | tail -1
mkdir -p "$work/new"
mkdir -p test-output/fuzz
set +e
.build-fuzz/debug/pollcast-fuzz "$work/new" Fuzz/corpus -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix=test-output/fuzz/ -print_final_stats=1 >"$work/log" 2>&1
status=$?
set -e
grep -E "^Done|stat::number_of_executed_units|ERROR|SUMMARY|broken rule|Fatal error" "$work/log" || true
if [ "$status" -ne 0 ]; then tail -40 "$work/log"; fi
rm -rf "$work"
exit "$status"

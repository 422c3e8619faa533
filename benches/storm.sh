#!/usr/bin/env bash
# Benchmark: the fault storm of tests/it/storm.rs for months of simulated time.
#
# The suite runs the storm for two simulated days, enough to meet every fault and all five S3
# outages. This runs the same test for longer: the daemon's hourly job of 200 channels on a
# driven clock while the emulator answers 10 % of API requests with 500 and injects 429 and
# 502-504 bursts, cut downloads, expired links, slow answers and failing tasks, and S3 (moto
# behind a TCP proxy) goes down five times for hours, the outages spread over the length. It
# prints the test's own lines: a line per simulated day (real time so far, runs, S3 requests),
# then days and ticks with the real time they took, windows, archives and messages, and "each
# exactly once" when every window's batches and every message of the emulator's ground truth
# were found exactly once in the archives.
#
#   benches/storm.sh          # 90 simulated days
#   benches/storm.sh 365      # any length from 2 to 365 days
#
# This is not a test: it prints figures. It exits non-zero when the storm fails (the test's
# assertion says why; the whole output is in target/bench-storm.log). It builds the tests as
# scripts/test does (the same unoptimised profile), and starts the local storage servers
# (scripts/test-servers) unless they are running, stopping them again at exit.
#
# Needs: cargo, cargo-nextest, and what scripts/test-servers needs (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

DAYS=${1:-90}
case $DAYS in
'' | *[!0-9]*)
    echo "usage: benches/storm.sh [days, 2 to 365; default 90]" >&2
    exit 2
    ;;
esac
LOG=target/bench-storm.log

if scripts/test-servers status >/dev/null 2>&1; then
    echo "storm bench: using the running storage servers"
else
    scripts/test-servers start >/dev/null
    trap 'scripts/test-servers stop >/dev/null' EXIT
fi
set -a
# shellcheck source=/dev/null # written by scripts/test-servers start
. target/test-servers.env
set +a

echo "storm bench: $DAYS simulated days (whole output: $LOG)"
began=$SECONDS
set +e
CHATVAULT_STORM_DAYS=$DAYS cargo nextest run --locked --no-capture \
    -E 'binary(it) & test(/^storm::/)' 2>&1 | tee "$LOG" | grep --line-buffered '^storm:'
codes=("${PIPESTATUS[@]}")
set -e
if [ "${codes[0]}" != 0 ]; then
    echo "storm bench: FAILED; the end of $LOG:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
fi
echo "storm bench: $((SECONDS - began)) s of real time, the build included"

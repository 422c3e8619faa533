#!/usr/bin/env bash
# Benchmark: how fast `chatvault ui` answers on ~1 GiB of archives, against the CLI doing the
# same reading in the same run.
#
# The archives are benches/search.sh's (60 zstd archives, ~1 GiB of v2 JSON, made through the
# emulator and one `run --once`); kept ones are reused (`BENCH_KEEP=1 benches/search.sh` keeps
# them), else that script runs first (about 4 minutes). Then a release `chatvault ui` serves
# them on 127.0.0.1 and curl times, best of BENCH_RUNS:
#   jobs-cold   the jobs page, first request: lists the folder, reads the 60 manifests
#   jobs        the jobs page again (manifests kept 30 s; the ledger read each time)
#   channels    every channel, from the manifests' counts
#   day         one channel's day: reads only the archives holding that day
#   search      a rare phrase over everything (the earliest 200 hits)
# beside the CLI doing the same reading: `transcript --in CID --after DAY --before DAY+1 --format
# html` for the day, `search --limit 200` for the phrase. Printed: seconds, and the page's time
# as a ratio of the CLI's (the CLI also starts a process and lists the folder every time; the
# page is also rendered and sent). Then the viewer's peak RSS (VmHWM).
#
#   benches/ui.sh
#
# Knobs (environment): BENCH_RUNS=5, CARGO_TARGET_DIR (honoured by the build).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${BENCH_RUNS:-5}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
PROJECT="$REPO/target/bench-search/project"
say() { echo "benches/ui.sh: $*" >&2; }

if ! ls "$PROJECT"/archive/bench/dt=*/*.manifest.json >/dev/null 2>&1; then
    say "no kept archives in ${PROJECT#"$REPO"/}; making them with benches/search.sh"
    BENCH_KEEP=1 BENCH_RUNS=1 "$REPO/benches/search.sh" >/dev/null
fi
say "building chatvault (release)"
(cd "$REPO" && cargo build --release --locked -q -p chatvault)
CHATVAULT="$TARGET/release/chatvault"

# The middle day of the archived stretch, and the channel the search bench uses.
DAY=$(ls "$PROJECT/archive/bench" | sort | sed -n "$(( $(ls "$PROJECT/archive/bench" | wc -l) / 2 ))p" | sed 's/^dt=//')
NEXT=$(date -u -d "$DAY + 1 day" +%Y-%m-%d)
CID=team:project-005
PHRASE='"zone coffee lunch"'

LOG=$(mktemp)
(cd "$PROJECT" && exec "$CHATVAULT" ui --listen 127.0.0.1:0 jobs) 2>"$LOG" &
UI=$!
trap 'kill $UI 2>/dev/null || true; rm -f "$LOG"' EXIT
BASE=""
for _ in $(seq 100); do
    BASE=$(sed -n 's|^chatvault ui: listening on \(http://[^ ]*\)/$|\1|p' "$LOG")
    [ -n "$BASE" ] && break
    sleep 0.1
done
[ -n "$BASE" ] || { cat "$LOG" >&2; say "the viewer did not start"; exit 1; }

# Prints the best wall seconds of RUNS runs of "$@" (stdout discarded).
best() {
    local best="" i t0 t1 secs
    for i in $(seq "$RUNS"); do
        t0=$(date +%s.%N)
        "$@" >/dev/null || { say "failed: $*"; exit 1; }
        t1=$(date +%s.%N)
        secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $secs < $best else 1)"; then best=$secs; fi
    done
    echo "$best"
}
page() { curl -sf -o /dev/null "$BASE$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
day_path="/channels/${CID/:/%3A}?day=$DAY"
search_path="/search?q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$PHRASE")"

t0=$(date +%s.%N); page /; t1=$(date +%s.%N)
cold=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
jobs=$(best page /)
channels=$(best page /channels)
day=$(best page "$day_path")
day_cli=$(cd "$PROJECT" && best "$CHATVAULT" transcript --in "$CID" --after "$DAY" --before "$NEXT" --format html jobs)
search=$(best page "$search_path")
search_cli=$(cd "$PROJECT" && best "$CHATVAULT" search --limit 200 --format jsonl "$PHRASE" jobs)
rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$UI/status")

echo
echo "$(find "$PROJECT/archive" -name '*.jsonl.zst' | wc -l) archives, day $DAY of $CID, best of $RUNS"
printf '%-12s %9s %9s %8s\n' page seconds CLI ratio
printf '%-12s %9s %9s %8s\n' jobs-cold "$cold" - -
printf '%-12s %9s %9s %8s\n' jobs "$jobs" - -
printf '%-12s %9s %9s %8s\n' channels "$channels" - -
printf '%-12s %9s %9s %8s\n' day "$day" "$day_cli" "$(ratio "$day" "$day_cli")"
printf '%-12s %9s %9s %8s\n' search "$search" "$search_cli" "$(ratio "$search" "$search_cli")"
echo "viewer peak RSS: $rss MiB"

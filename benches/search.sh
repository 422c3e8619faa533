#!/usr/bin/env bash
# Benchmark: `chatvault search` against DuckDB and `zstdcat | jq` on the same archives.
#
# The archives are made the way users make them: the emulator (release build, on 127.0.0.1, real
# clock, tasks done in a second) holds BENCH_CHANNELS channels of each of its three types with
# BENCH_MESSAGES_PER_DAY messages a day over BENCH_DAYS days (~1.65 KB a message as JSON); one
# `chatvault run --once` of a job with a fixed window over those days cut into daily pieces
# (`max: 1d`) exports them as v2 JSON Lines, zstd-compressed, into a local folder laid out in
# dt= partitions: one archive per day and request of 25 channels. The defaults make ~1 GiB of
# JSON (uncompressed).
#
# Queries, each run by all three, timed (GNU time: wall seconds and peak RSS), the best of
# BENCH_RUNS:
#   word      a rare phrase as whole words, over everything ("zone coffee lunch"; DuckDB and jq
#             with a regular expression: no letter or digit on either side)
#   from      one user, over two days                       (from:user-003 after:D before:D+2)
#   in        one channel, over everything; half the archives can hold it (48 channels make two
#             requests a day of 25 and 23)
# chatvault reads the folder through --url (it prunes by each archive's manifest counts); DuckDB
# runs read_json over every *.jsonl.zst with the same predicates and no partition filter (what
# someone without the catalog would run); jq gets `zstdcat` of every archive. Each query's
# message count must be the same for all three (the archives do not overlap).
#
# Then the peak RSS of chatvault's `word` query on the first ~100 MiB of archives (a copy of the
# first days' partitions) beside the whole ~1 GiB, for the "flat in size" target.
#
# Targets (issue 15): from >= 3x faster than DuckDB; in >= 1.5x; word at least as fast as DuckDB;
# peak RSS <= 64 MiB at both sizes. Printed as ratios from this one run; this is not a test and
# exits non-zero only when something is broken (or, with BENCH_STRICT=1, a target is missed).
#
#   benches/search.sh
#
# Needs: cargo, python3 (DuckDB is pip-installed, pinned, into target/bench-duckdb), zstd, jq and
# GNU time (installed with apt-get when missing, as root), ~2 GiB free under target/.
#
# Knobs (environment): BENCH_CHANNELS=16 (per type), BENCH_MESSAGES_PER_DAY=440, BENCH_DAYS=31,
# BENCH_RUNS=3, BENCH_SMALL_DAYS=3, BENCH_STRICT=0, BENCH_KEEP=0 (1 keeps the archives),
# CARGO_TARGET_DIR (honoured by the build).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHANNELS="${BENCH_CHANNELS:-16}"
PER_DAY="${BENCH_MESSAGES_PER_DAY:-440}"
DAYS="${BENCH_DAYS:-31}"
RUNS="${BENCH_RUNS:-3}"
SMALL_DAYS="${BENCH_SMALL_DAYS:-3}"
STRICT="${BENCH_STRICT:-0}"
DUCKDB_VERSION=2.0.0 # as scripts/test pins it
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
WORK="$REPO/target/bench-search"
say() { echo "benches/search.sh: $*" >&2; }

missing=()
command -v zstd >/dev/null || missing+=(zstd)
command -v jq >/dev/null || missing+=(jq)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x "$REPO/target/bench-duckdb/bin/python" ] ||
    ! "$REPO/target/bench-duckdb/bin/python" -c 'import duckdb' 2>/dev/null; then
    say "installing duckdb==$DUCKDB_VERSION into target/bench-duckdb"
    python3 -m venv "$REPO/target/bench-duckdb"
    "$REPO/target/bench-duckdb/bin/pip" install -q --disable-pip-version-check "duckdb==$DUCKDB_VERSION"
fi
PY="$REPO/target/bench-duckdb/bin/python"

say "building chatvault and the emulator (release)"
(cd "$REPO" && cargo build --release --locked -q -p chatvault -p chatvault-emulator)
CHATVAULT="$TARGET/release/chatvault"
EMULATOR="$TARGET/release/chatvault-emulator"

rm -rf "$WORK"
mkdir -p "$WORK/project/jobs"
EMU_LOG="$WORK/emulator.log"
"$EMULATOR" --port 0 --channels-per-type "$CHANNELS" --messages-per-day "$PER_DAY" \
    --days "$DAYS" --waiting-secs 0 --pending-secs 0 --running-secs 1 \
    --soft-deleted-per-type 0 --truncated-per-type 0 >"$EMU_LOG" 2>&1 &
EMU_PID=$!
cleanup() {
    kill "$EMU_PID" 2>/dev/null || true
    if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$WORK/project/archive" "$WORK/small"; fi
}
trap cleanup EXIT
BASE=""
for _ in $(seq 300); do
    BASE=$(sed -n 's/^listening on //p' "$EMU_LOG" 2>/dev/null || true)
    [ -n "$BASE" ] && break
    sleep 0.1
done
[ -n "$BASE" ] || { cat "$EMU_LOG" >&2; say "the emulator did not start"; exit 1; }
case "$BASE" in http*) ;; *) BASE="http://$BASE" ;; esac

# The window: the whole days of history before today (UTC).
read -r SINCE UNTIL FROM_DAY FROM_END < <(python3 - "$DAYS" <<'PY'
import datetime, sys
days = int(sys.argv[1])
today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
since = today - datetime.timedelta(days=days - 1)
mid = since + datetime.timedelta(days=days // 2)
fmt = lambda t: t.strftime('%Y-%m-%dT%H:%M:%SZ')
print(fmt(since), fmt(today), mid.strftime('%Y-%m-%d'), (mid + datetime.timedelta(days=2)).strftime('%Y-%m-%d'))
PY
)
channels=""
for type in messaging team livestream; do
    prefix=$(case $type in messaging) echo general ;; team) echo project ;; *) echo broadcast ;; esac)
    ids=$(seq -f "$prefix-%03g" 0 $((CHANNELS - 1)) | paste -sd, -)
    channels+="  - type: $type\n    ids: [$ids]\n"
done
cat >"$WORK/project/chatvault.yaml" <<EOF
api:
  base_url: $BASE
EOF
printf 'name: bench\nschedule: "0 0 * * *"\nwindow:\n  mode: fixed\n  since: %s\n  until: %s\n  max: 1d\nchannels:\n%bexport:\n  version: v2\ndestination:\n  url: file://archive\n  compression: zstd\n  key: "{job}/dt={window_start:%%Y-%%m-%%d}/{kind}-{batch}.{ext}"\n' \
    "$SINCE" "$UNTIL" "$channels" >"$WORK/project/jobs/bench.yaml"

say "archiving $DAYS days of $((CHANNELS * 3)) channels x $PER_DAY messages a day"
started=$(date +%s)
(cd "$WORK/project" && STREAM_API_KEY=emulator-key STREAM_API_SECRET=emulator-secret \
    "$CHATVAULT" run --once --log-format json jobs >"$WORK/run.out" 2>"$WORK/run.log") ||
    { tail -n 20 "$WORK/run.log" >&2; say "the run failed"; exit 1; }
ARCHIVE="$WORK/project/archive"
archives=$(find "$ARCHIVE" -name '*.jsonl.zst' | wc -l)
stored=$(du -sb "$ARCHIVE" | cut -f1)
raw=$(python3 - "$ARCHIVE" <<'PY'
import json, pathlib, sys
print(sum(json.loads(p.read_text())["bytes_source"] for p in pathlib.Path(sys.argv[1]).rglob("*.manifest.json")))
PY
)
say "$archives archives, $((raw / 1048576)) MiB of JSON, $((stored / 1048576)) MiB stored, made in $(( $(date +%s) - started )) s"

# A copy of the first days' partitions: the small size.
SMALL="$WORK/small"
mkdir -p "$SMALL/bench"
for d in $(ls "$ARCHIVE/bench" | sort | head -n "$SMALL_DAYS"); do cp -r "$ARCHIVE/bench/$d" "$SMALL/bench/"; done
small_raw=$(python3 - "$SMALL" <<'PY'
import json, pathlib, sys
print(sum(json.loads(p.read_text())["bytes_source"] for p in pathlib.Path(sys.argv[1]).rglob("*.manifest.json")))
PY
)

WORD="zone coffee lunch"
USER_ID=user-003
CID=team:project-005 # in the second request of each day: half the archives
declare -A CV DK JQ
CV[word]="\"$WORD\""
CV[from]="from:$USER_ID after:$FROM_DAY before:$FROM_END"
CV[in]="in:$CID"
# A phrase matches as whole words (README, "Reading the archive"): its end letters do not run on
# into other letters or digits.
WHOLE="(^|[^\\p{L}\\p{N}])$WORD(\$|[^\\p{L}\\p{N}])"
DK[word]="regexp_matches(lower(item->>'\$.text'), '$WHOLE')"
DK[from]="item->>'\$.user.id' = '$USER_ID' AND CAST(item->>'\$.created_at' AS TIMESTAMP) >= TIMESTAMP '$FROM_DAY' AND CAST(item->>'\$.created_at' AS TIMESTAMP) < TIMESTAMP '$FROM_END'"
DK[in]="item->>'\$.cid' = '$CID'"
# The phrase is ASCII: lowercasing ASCII is enough (and far faster than a case-insensitive regex).
JQ[word]="(.item.text // \"\" | ascii_downcase | test(\"${WHOLE//\\/\\\\}\"))"
JQ[from]="(.item.user.id == \"$USER_ID\" and .item.created_at >= \"$FROM_DAY\" and .item.created_at < \"$FROM_END\")"
JQ[in]="(.item.cid == \"$CID\")"

# Runs "$@" RUNS times; prints "best_seconds max_rss_kib count" (count: lines of stdout).
measure() {
    local best="" rss=0 count=0 i
    for i in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" ||
            { cat "$WORK/err" >&2; say "failed: $*"; exit 1; }
        read -r secs kib <"$WORK/time"
        count=$(wc -l <"$WORK/out")
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $secs < $best else 1)"; then best=$secs; fi
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    echo "$best $rss $count"
}
duck() { # a query's matching message ids, one a line
    "$PY" -c "
import duckdb, sys
# A query slower than 2 s draws a progress bar on stdout, which would count as a hit.
con = duckdb.connect()
con.execute('SET enable_progress_bar = false')
sql = r\"\"\"SELECT item->>'\$.id' FROM read_json('$ARCHIVE/**/*.jsonl.zst', format = 'newline_delimited',
      columns = {type: 'VARCHAR', item: 'JSON'}) WHERE type = 'message' AND ($1)\"\"\"
for (i,) in con.execute(sql).fetchall(): print(i)
"
}
jqq() {
    find "$ARCHIVE" -name '*.jsonl.zst' -print0 | xargs -0 zstdcat |
        jq -c "select(.type == \"message\" and $1) | .item.id"
}
export -f duck jqq
export PY ARCHIVE

printf '\n%-6s %-10s %10s %12s %9s\n' query tool seconds "peak RSS" hits
declare -A SECS
status=0
for q in word from in; do
    read -r s r c < <(measure "$CHATVAULT" search "${CV[$q]}" --url "file://$ARCHIVE" --format jsonl)
    SECS[$q.cv]=$s; printf '%-6s %-10s %10s %9s MiB %9s\n' "$q" chatvault "$s" $((r / 1024)) "$c"; cv_count=$c
    read -r s r c < <(measure bash -c "duck \"${DK[$q]}\"")
    SECS[$q.dk]=$s; printf '%-6s %-10s %10s %9s MiB %9s\n' "$q" duckdb "$s" $((r / 1024)) "$c"; dk_count=$c
    read -r s r c < <(RUNS=1 measure bash -c "jqq '${JQ[$q]}'")
    printf '%-6s %-10s %10s %9s MiB %9s\n' "$q" "zstdcat|jq" "$s" $((r / 1024)) "$c"; jq_count=$c
    if [ "$cv_count" != "$dk_count" ] || [ "$cv_count" != "$jq_count" ]; then
        say "$q: the tools disagree ($cv_count, $dk_count, $jq_count hits)"; status=1
    fi
done

read -r _ small_rss _ < <(measure "$CHATVAULT" search "${CV[word]}" --url "file://$SMALL" --format jsonl)
read -r _ big_rss _ < <(measure "$CHATVAULT" search "${CV[word]}" --url "file://$ARCHIVE" --format jsonl)

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "archives: $archives ($((raw / 1048576)) MiB of JSON, $((stored / 1048576)) MiB stored with zstd)"
echo "from: chatvault $(ratio "${SECS[from.dk]}" "${SECS[from.cv]}")x faster than DuckDB (target >= 3)"
echo "in:   chatvault $(ratio "${SECS[in.dk]}" "${SECS[in.cv]}")x faster than DuckDB (target >= 1.5)"
echo "word: chatvault $(ratio "${SECS[word.dk]}" "${SECS[word.cv]}")x DuckDB's speed (target >= 1)"
echo "peak RSS of the word query: $((small_rss / 1024)) MiB on $((small_raw / 1048576)) MiB, $((big_rss / 1024)) MiB on $((raw / 1048576)) MiB (target <= 64 MiB)"
if [ "$STRICT" = 1 ]; then
    python3 - "${SECS[from.dk]}" "${SECS[from.cv]}" "${SECS[in.dk]}" "${SECS[in.cv]}" \
        "${SECS[word.dk]}" "${SECS[word.cv]}" "$small_rss" "$big_rss" <<'PY' || status=3
import sys
fd, fc, idk, ic, wd, wc, s, b = map(float, sys.argv[1:])
ok = fd / fc >= 3 and idk / ic >= 1.5 and wd / wc >= 1 and max(s, b) <= 64 * 1024
sys.exit(0 if ok else 1)
PY
fi
exit $status

#!/usr/bin/env bash
# Benchmark: one export file, served by the emulator on 127.0.0.1, into one local S3 server
# (s3s-fs: SigV4-checking, data on tmpfs), in one run, by
#   chatvault   the library's streaming transfer (chatvault::archive::transfer, no compression),
#               through benches/transfer.rs, since `run --once` does not exist yet
#   rclone      `rclone copyurl` (Debian's rclone, its defaults)
#   ceiling     the slower of two single-stream curl legs: a GET of the same link to /dev/null,
#               and a signed PUT of the same bytes (from tmpfs) to the same server
# at two sizes, ~256 MiB and ~2 GiB, printing seconds, MiB/s and peak RSS of each leg, then the
# ratios against the targets: chatvault >= 1.2x rclone, >= 0.7x the ceiling, peak RSS <= 64 MiB
# and flat in file size (the 2 GiB run's peak at most 16 MiB, two parts, above the 256 MiB run's).
# The targets are judged on the ~2 GiB file. An extra, labelled line: chatvault with zstd (not part
# of the targets). Also printed: CPU seconds of each leg and of both servers during it, and where
# chatvault's time goes (part queueing, part uploads, and the server's CompleteMultipartUpload,
# which s3s-fs does by re-reading and copying every part: rclone pays it too, a single PUT not).
#
#   benches/transfer.sh            # from any directory
#
# This is not a test: it exits non-zero only when something is broken (a build, a server, a
# leg failing or storing the wrong number of bytes), or, with BENCH_STRICT=1, when a target is
# missed.
#
# Needs: cargo, python3, curl, rclone, GNU time (the last three installed with apt-get when
# missing), ~7 GiB free in /dev/shm (the 2 GiB file, an object, s3s-fs's multipart parts).
# s3s-fs is installed the way scripts/test-servers does it, into the same cache.
#
# Knobs (environment):
#   BENCH_MESSAGES_PER_DAY=41200  emulator messages per channel per day (~1.65 KB a message)
#   BENCH_DAYS=32                 days of history: the large export is one channel's whole
#                                 history (41200 x 32 messages, ~2.0 GiB)
#   BENCH_SMALL_DAYS=4            the small export is the same channel's last N days (~256 MiB)
#   BENCH_RUNS=3                  runs of each leg (the median run by seconds, max RSS reported);
#                                 on 2 vCPUs a single run varies by +-15%
#   BENCH_ZSTD=1                  0 skips the extra zstd leg
#   BENCH_LEG_TIMEOUT=900         seconds any one leg may take
#   BENCH_STRICT=0                1: exit 3 when a target is missed
#   BENCH_KEEP=0                  1: keep the work dir (logs; the data is removed regardless)
#   CHATVAULT_CACHE               where s3s-fs is installed (default ~/.cache/chatvault-test)
#   CARGO_TARGET_DIR              honoured by the build
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MESSAGES_PER_DAY="${BENCH_MESSAGES_PER_DAY:-41200}"
DAYS="${BENCH_DAYS:-32}"
SMALL_DAYS="${BENCH_SMALL_DAYS:-4}"
RUNS="${BENCH_RUNS:-3}"
ZSTD_LEG="${BENCH_ZSTD:-1}"
LEG_TIMEOUT="${BENCH_LEG_TIMEOUT:-900}"
STRICT="${BENCH_STRICT:-0}"
WAIT_SECS=30
REGION=us-east-1
BUCKET=bench
S3S_FS_VERSION=0.14.1 # as scripts/test-servers
CACHE="${CHATVAULT_CACHE:-$HOME/.cache/chatvault-test}"
S3S_BIN="$CACHE/cargo/bin/s3s-fs"

# Everything is on 127.0.0.1: no proxy, no cloud metadata endpoint.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost AWS_EC2_METADATA_DISABLED=true
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf 'transfer-bench: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# work dir and cleanup (servers we started, by PID; every temp file)

TMP_BASE="${TMPDIR:-/tmp}"
[[ -d /dev/shm && -w /dev/shm ]] && TMP_BASE=/dev/shm
WORK="$(mktemp -d "$TMP_BASE/chatvault-transfer-bench.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/s3s-data"
S3S_PID=""
EMU_PID=""

stop_pid() { # PID: TERM, up to 5 s, then KILL
    local pid=$1 _
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $rc != 0 ]]; then
        local f
        for f in "$LOGS"/*.log; do
            [[ -s "$f" ]] || continue
            say "--- tail of ${f##*/}:"
            tail -n 15 "$f" >&2 || true
        done
    fi
    stop_pid "$EMU_PID"
    stop_pid "$S3S_PID"
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        rm -rf "$WORK/s3s-data" "$WORK"/export-*
        say "kept logs in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# tools

apt_install() { # PACKAGE...: install, running apt-get update only if the first try fails
    command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it"
    say "installing $* with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$LOGS/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOGS/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$LOGS/apt.log" 2>&1 \
            || die "apt-get install $* (log above)"
    fi
}

need=()
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v rclone >/dev/null || need+=(rclone)
[[ -x /usr/bin/time ]] || need+=(time)
command -v sha256sum >/dev/null || need+=(coreutils)
[[ ${#need[@]} == 0 ]] || apt_install "${need[@]}"
command -v cargo >/dev/null || die "cargo not found"
# --aws-sigv4 with a caller-given x-amz-content-sha256 needs curl >= 7.86.
curl_version=$(curl --version | awk 'NR==1 {print $2}')
python3 -c 'import sys; v = tuple(int(x) for x in sys.argv[1].split(".")[:2]); sys.exit(v < (7, 86))' "$curl_version" \
    || die "curl $curl_version is too old for the signed PUT (needs >= 7.86)"

install_s3s() { # as scripts/test-servers, same cache and lock
    if [[ -x "$S3S_BIN" ]] && "$S3S_BIN" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
        return
    fi
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.install.lock"
    flock -w 1200 8 || die "waited 20 min for $CACHE/.install.lock"
    if ! { [[ -x "$S3S_BIN" ]] && "$S3S_BIN" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; }; then
        say "s3s-fs: cargo install s3s-fs $S3S_FS_VERSION into $CACHE/cargo (a few minutes cold)"
        env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR timeout 1800 cargo install s3s-fs \
            --version "$S3S_FS_VERSION" --features binary --locked --root "$CACHE/cargo" \
            >"$LOGS/s3s-install.log" 2>&1 || die "cargo install s3s-fs (log above)"
    fi
    exec 8>&-
    [[ -x "$S3S_BIN" ]] || die "cargo install finished but $S3S_BIN is missing"
}
install_s3s

# ---------------------------------------------------------------------------------------------
# build: the emulator binary and the bench binary, release, in one cargo call

say "building release binaries (chatvault-emulator, bench transfer; cold: ~15 min on 2 cores)"
(cd "$REPO" && timeout 3600 cargo build --release --locked --workspace \
    --bin chatvault-emulator --bench transfer --message-format=json-render-diagnostics \
    >"$WORK/build.json" 2>"$LOGS/build.log") || die "cargo build (log above)"
artifact() { # TARGET_NAME KIND: the executable cargo reported
    python3 - "$WORK/build.json" "$1" "$2" <<'EOF'
import json, sys
path, name, kind = sys.argv[1:]
exe = None
for line in open(path):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target") or {}
    if m.get("reason") == "compiler-artifact" and t.get("name") == name and kind in t.get("kind", []) and m.get("executable"):
        exe = m["executable"]
if not exe:
    sys.exit(f"no {kind} executable {name} in cargo's output")
print(exe)
EOF
}
EMU_BIN=$(artifact chatvault-emulator bin)
BENCH_BIN=$(artifact transfer bench)

# ---------------------------------------------------------------------------------------------
# servers

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

AK="bench-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
SK="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
S3_PORT=$(free_port)
S3="http://127.0.0.1:$S3_PORT"
"$S3S_BIN" --host 127.0.0.1 --port "$S3_PORT" --access-key "$AK" --secret-key "$SK" \
    "$WORK/s3s-data" </dev/null >"$LOGS/s3s-fs.log" 2>&1 &
S3S_PID=$!

# Signed S3 requests with curl; the payload hash is the caller's (UNSIGNED-PAYLOAD unless set).
s3curl() {
    curl -sS --max-time "${CURL_MAX_TIME:-60}" --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:$SK" "$@"
}
deadline=$((SECONDS + WAIT_SECS))
until curl -s -o /dev/null --max-time 2 "$S3/"; do
    kill -0 "$S3S_PID" 2>/dev/null || die "s3s-fs exited during startup"
    [[ $SECONDS -lt $deadline ]] || die "s3s-fs did not answer at $S3 within ${WAIT_SECS}s"
    sleep 0.2
done
code=$(s3curl -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT -o "$LOGS/bucket.log" -w '%{http_code}' "$S3/$BUCKET")
[[ $code == 200 ]] || die "creating bucket $BUCKET on s3s-fs: HTTP $code"
# The server must check signatures, or the comparison would flatter everyone.
code=$(curl -sS --max-time 10 --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:wrong-secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o /dev/null -w '%{http_code}' -I "$S3/$BUCKET/x")
[[ $code == 403 ]] || die "s3s-fs answered HTTP $code to a badly signed request (want 403)"

: >"$LOGS/emulator.log" # exists before the emulator's redirection, which races the loop below
"$EMU_BIN" --port 0 --clock manual --channels-per-type 1 --truncated-per-type 0 \
    --soft-deleted-per-type 0 --messages-per-day "$MESSAGES_PER_DAY" --days "$DAYS" \
    </dev/null >"$LOGS/emulator.log" 2>&1 &
EMU_PID=$!
deadline=$((SECONDS + WAIT_SECS))
EMU=""
until [[ -n "$EMU" ]]; do
    EMU=$(sed -n 's/^listening on //p' "$LOGS/emulator.log" 2>/dev/null || true)
    [[ -n "$EMU" ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || die "the emulator exited during startup"
    [[ $SECONDS -lt $deadline ]] || die "the emulator did not say where it listens within ${WAIT_SECS}s"
    sleep 0.1
done

json_field() { # EXPR (python, on `d`): reads JSON on stdin
    python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
api() { # METHOD PATH [BODY]: a Stream API call with a server token
    curl -sS --fail-with-body --max-time 30 -X "$1" "$EMU$2?api_key=emulator-key" \
        -H "Authorization: $TOKEN" -H "Stream-Auth-Type: jwt" ${3:+-d "$3"}
}
TOKEN=$(curl -sS --fail --max-time 10 -X POST "$EMU/_emulator/token" -d '{}' | json_field 'd["token"]')
NOW=$(curl -sS --fail --max-time 10 "$EMU/_emulator/clock" | json_field 'd["now"]')
SMALL_SINCE=$(python3 -c '
import sys
from datetime import datetime, timedelta
now = datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
print((now - timedelta(days=int(sys.argv[2]))).isoformat().replace("+00:00", "Z"))' "$NOW" "$SMALL_DAYS")
CHANNEL='"type":"messaging","id":"general-000"'
TASK_LARGE=$(api POST /export_channels "{\"channels\":[{$CHANNEL}],\"version\":\"v2\"}" | json_field 'd["task_id"]')
TASK_SMALL=$(api POST /export_channels \
    "{\"channels\":[{$CHANNEL,\"messages_since\":\"$SMALL_SINCE\"}],\"version\":\"v2\"}" | json_field 'd["task_id"]')
# Tasks take 2 + 3 + 5 s of the emulator's (manual) clock to complete.
curl -sS --fail --max-time 10 -X POST "$EMU/_emulator/clock/advance" -d '{"seconds": 60}' >/dev/null
link() { # TASK_ID: a fresh presigned link of the completed export
    api GET "/export_channels/$1" | json_field 'd["result"]["url"] if d["status"] == "completed" else sys.exit("task " + d["status"])'
}
URL_LARGE=$(link "$TASK_LARGE")
URL_SMALL=$(link "$TASK_SMALL")

# The first request of a file makes the emulator generate it once for its Content-Length: timed,
# it is the emulator's generation speed alone (no HTTP body).
content_length() { # URL
    curl -sS --fail --max-time 600 -I "$1" | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}'
}
t0=$(date +%s.%N)
BYTES_LARGE=$(content_length "$URL_LARGE")
GEN_SECS_LARGE=$(python3 -c "import sys; print(f'{$(date +%s.%N) - $t0:.3f}')")
BYTES_SMALL=$(content_length "$URL_SMALL")
[[ "$BYTES_LARGE" =~ ^[0-9]+$ && "$BYTES_SMALL" =~ ^[0-9]+$ ]] || die "no Content-Length for the export links"

mib() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }
say "exports: large $(mib "$BYTES_LARGE") MiB, small $(mib "$BYTES_SMALL") MiB (messaging:general-000, v2)"

# ---------------------------------------------------------------------------------------------
# legs

RESULTS="$WORK/results.tsv" # leg size bytes seconds rss_kib cpu_leg cpu_emulator cpu_s3s
: >"$RESULTS"
LEG_SECS=""
LEG_RSS=""
LEG_CPU=""
CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() { # PID: user + system clock ticks so far
    awk '{print $14 + $15}' "/proc/$1/stat"
}

timed() { # LOGNAME CMD...: runs CMD under timeout and /usr/bin/time -v; sets LEG_SECS, LEG_RSS,
          # LEG_CPU (CPU seconds of the leg, the emulator and s3s-fs during it)
    local log="$LOGS/$1.log" tv="$WORK/time.txt" t0 t1 rc=0 emu0 s3s0 emu1 s3s1
    shift
    emu0=$(cpu_ticks "$EMU_PID")
    s3s0=$(cpu_ticks "$S3S_PID")
    t0=$(date +%s.%N)
    timeout "$LEG_TIMEOUT" /usr/bin/time -v -o "$tv" "$@" >"$log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    emu1=$(cpu_ticks "$EMU_PID")
    s3s1=$(cpu_ticks "$S3S_PID")
    if [[ $rc != 0 ]]; then
        tail -n 20 "$log" >&2 || true
        [[ $rc == 124 ]] && die "$* timed out after ${LEG_TIMEOUT}s"
        die "$* exited with $rc"
    fi
    LEG_SECS=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    LEG_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    LEG_CPU=$(awk -F': ' -v e=$((emu1 - emu0)) -v s=$((s3s1 - s3s0)) -v hz="$CLK_TCK" '
        /User time|System time/ {cpu += $2}
        END {printf "%.2f\t%.2f\t%.2f", cpu, e / hz, s / hz}' "$tv")
}

record() { # LEG SIZE BYTES
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$LEG_SECS" "$LEG_RSS" "$LEG_CPU" >>"$RESULTS"
    say "  $1: $(mib "$3") MiB in ${LEG_SECS}s, peak RSS $((LEG_RSS / 1024)) MiB"
}

object_size() { # KEY
    s3s_head=$(s3curl -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -I "$S3/$BUCKET/$1" | tr -d '\r')
    awk 'tolower($1) == "content-length:" {print $2}' <<<"$s3s_head"
}
check_object() { # KEY WANT_BYTES: the stored object has that size; then it is deleted
    local got
    got=$(object_size "$1")
    [[ "$got" == "$2" ]] || die "$1 stored as ${got:-nothing} bytes, want $2"
    s3curl -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X DELETE -o /dev/null "$S3/$BUCKET/$1"
}

result_field() { # NAME: from the bench binary's `result:` line
    sed -n "s/^result: .*\b$1=\([^ ]*\).*/\1/p" "$LOGS/chatvault.log"
}

export CHATVAULT_BENCH_ACCESS_KEY="$AK" CHATVAULT_BENCH_SECRET_KEY="$SK"
# rclone's S3 remote `bench:` from the environment only (an empty config file).
: >"$WORK/rclone.conf"
export RCLONE_CONFIG="$WORK/rclone.conf" RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
    RCLONE_CONFIG_BENCH_ENDPOINT="$S3" RCLONE_CONFIG_BENCH_REGION="$REGION" \
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AK" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$SK" \
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true

DETAIL="$WORK/chatvault.tsv" # compression size bytes_source bytes_stored seconds parts queued_ms upload_ms complete_s
: >"$DETAIL"
chatvault_detail() { # COMPRESSION SIZE: where chatvault's time went, from its result line
    local f
    printf '%s\t%s' "$1" "$2" >>"$DETAIL"
    for f in bytes_source bytes_stored seconds parts part_queued_ms part_upload_ms complete_s; do
        printf '\t%s' "$(result_field "$f")" >>"$DETAIL"
    done
    echo >>"$DETAIL"
    say "  (chatvault $1: $(result_field parts) parts; parts waited $(result_field part_queued_ms) ms on average" \
        "between being cut and their upload starting, then uploaded in $(result_field part_upload_ms) ms;" \
        "complete $(result_field complete_s)s)"
}

declare -A SHA_NONE
run_size() { # LABEL URL BYTES
    local size=$1 url=$2 bytes=$3 run key got file sha
    say "$size ($(mib "$bytes") MiB):"
    for run in $(seq "$RUNS"); do
        # curl GET to /dev/null: the download half of the ceiling.
        timed curl-get curl -sS --fail -o /dev/null -w '%{size_download}\n' "$url"
        got=$(tail -n 1 "$LOGS/curl-get.log")
        [[ "$got" == "$bytes" ]] || die "curl GET read $got bytes, want $bytes"
        record "curl GET (ceiling)" "$size" "$bytes"

        # chatvault: the library transfer, no compression.
        key="chatvault-none-$size-$run.jsonl"
        timed chatvault "$BENCH_BIN" --url "$url" --endpoint "$S3" --bucket "$BUCKET" \
            --region "$REGION" --key "$key" --compression none
        [[ "$(result_field bytes_source)" == "$bytes" && "$(result_field bytes_stored)" == "$bytes" ]] \
            || die "chatvault moved $(result_field bytes_source) bytes, stored $(result_field bytes_stored), want $bytes"
        SHA_NONE[$size]=$(result_field sha256)
        chatvault_detail none "$size"
        check_object "$key" "$bytes"
        record "chatvault" "$size" "$bytes"

        # rclone copyurl, defaults.
        key="rclone-$size-$run.jsonl"
        # (AWS_CA_BUNDLE, if set, makes rclone's S3 client refuse to start; all is plain http.)
        timed rclone env -u AWS_CA_BUNDLE rclone copyurl --s3-no-check-bucket "$url" "bench:$BUCKET/$key"
        check_object "$key" "$bytes"
        record "rclone copyurl" "$size" "$bytes"

        if [[ "$ZSTD_LEG" == 1 ]]; then
            key="chatvault-zstd-$size-$run.jsonl.zst"
            timed chatvault "$BENCH_BIN" --url "$url" --endpoint "$S3" --bucket "$BUCKET" \
                --region "$REGION" --key "$key" --compression zstd
            [[ "$(result_field bytes_source)" == "$bytes" ]] \
                || die "chatvault (zstd) read $(result_field bytes_source) bytes, want $bytes"
            check_object "$key" "$(result_field bytes_stored)"
            chatvault_detail zstd "$size"
            record "chatvault zstd (extra)" "$size" "$bytes"
        fi

        # curl PUT of the same bytes from tmpfs, payload hash signed (computed beforehand):
        # the upload half of the ceiling.
        file="$WORK/export-$size"
        curl -sS --fail --max-time "$LEG_TIMEOUT" -o "$file" "$url"
        sha=$(sha256sum "$file" | cut -d' ' -f1)
        [[ "$sha" == "${SHA_NONE[$size]}" ]] \
            || die "chatvault's SHA-256 ${SHA_NONE[$size]} is not the file's $sha"
        key="curl-put-$size-$run.jsonl"
        timed curl-put curl -sS --fail --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:$SK" \
            -H "x-amz-content-sha256: $sha" -T "$file" -o /dev/null "$S3/$BUCKET/$key"
        rm -f "$file"
        check_object "$key" "$bytes"
        record "curl PUT (ceiling)" "$size" "$bytes"
    done
}

say "emulator: generated the large file for its Content-Length in ${GEN_SECS_LARGE}s (generation alone)"
run_size small "$URL_SMALL" "$BYTES_SMALL"
run_size large "$URL_LARGE" "$BYTES_LARGE"

# ---------------------------------------------------------------------------------------------
# report

COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] || COMMIT="$COMMIT (+ uncommitted changes)"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)

rc=0
python3 - "$RESULTS" "$STRICT" "$DETAIL" <<EOF || rc=$?
import statistics, sys
from collections import defaultdict

results, strict, detail = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
runs = defaultdict(list)
for line in open(results):
    leg, size, nbytes, secs, rss, cpu, cpu_emu, cpu_s3s = line.rstrip("\n").split("\t")
    runs[(leg, size)].append((int(nbytes), float(secs), int(rss), float(cpu), float(cpu_emu), float(cpu_s3s)))

def fig(leg, size):
    r = sorted(runs[(leg, size)], key=lambda x: x[1])
    mid = r[len(r) // 2]  # the median run (by seconds)
    nbytes, secs = mid[0], mid[1]
    return {"bytes": nbytes, "secs": secs, "mibs": nbytes / 1048576 / secs,
            "rss": max(x[2] for x in r) / 1024, "cpu": mid[3:]}

print()
print("transfer benchmark: emulator (127.0.0.1) -> s3s-fs $S3S_FS_VERSION (127.0.0.1, SigV4 checked, data on tmpfs)")
print("machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -r); commit $COMMIT; $(rustc --version 2>/dev/null || echo rustc ?)")
print("chatvault leg = the library transfer (chatvault::archive::transfer via benches/transfer.rs),")
print("  NOT \`run --once\` yet; no compression; 8 MiB parts, <= 32 MiB of parts in flight")
print("rclone leg = $(rclone version 2>/dev/null | head -n 1) copyurl, defaults: one HTTP stream in,")
print("  multipart 5 MiB chunks x 4 concurrent (--s3-chunk-size/--s3-upload-concurrency), cutoff 200 MiB")
print("ceiling = min(curl GET -> /dev/null, curl --aws-sigv4 PUT from tmpfs with signed payload hash)")
print("emulator: $MESSAGES_PER_DAY msgs/day; large = $DAYS days, small = last $SMALL_DAYS days; "
      "generated the large file alone (Content-Length pass) at "
      f"{$BYTES_LARGE / 1048576 / $GEN_SECS_LARGE:.0f} MiB/s")
print(f"runs per leg: $RUNS (median seconds, max RSS)")
print()
legs = ["chatvault", "rclone copyurl", "curl GET (ceiling)", "curl PUT (ceiling)", "chatvault zstd (extra)"]
print(f"{'leg':<24} {'size':>6} {'MiB':>8} {'seconds':>8} {'MiB/s':>7} {'peak RSS MiB':>13}   "
      f"{'CPU s: leg':>10} {'emulator':>8} {'s3s-fs':>6} {'cores busy':>10}")
for size in ("small", "large"):
    for leg in legs:
        if (leg, size) not in runs:
            continue
        f = fig(leg, size)
        c = f["cpu"]
        print(f"{leg:<24} {size:>6} {f['bytes'] / 1048576:>8.1f} {f['secs']:>8.2f} {f['mibs']:>7.1f} {f['rss']:>13.1f}   "
              f"{c[0]:>10.2f} {c[1]:>8.2f} {c[2]:>6.2f} {sum(c) / f['secs']:>10.2f}")
print(f"(cores busy = CPU seconds of the leg, the emulator and s3s-fs over wall seconds; this machine has $(nproc))")
print()
print("where chatvault's time goes (timed by a pass-through layer around the store in benches/transfer.rs):")
for line in open(detail):
    comp, size, src, stored, secs, parts, queued, upload, complete = line.rstrip("\n").split("\t")
    src, stored, secs, parts, complete = int(src), int(stored), float(secs), int(parts), float(complete)
    stream = secs - complete
    print(f"  {comp:<5} {size:<6} {src / 1048576:7.1f} MiB: {parts:4} parts of {stored / max(parts, 1) / 1048576:4.1f} MiB; "
          f"streaming {stream:6.2f} s ({src / 1048576 / stream:6.1f} MiB/s), then complete {complete:5.2f} s "
          f"({100 * complete / secs:4.1f}%); parts waited {float(queued):6.1f} ms after being cut before "
          f"uploading, upload {float(upload):6.1f} ms each")
print("  (complete = s3s-fs's CompleteMultipartUpload: it re-reads every part, MD5s it and copies it into")
print("   the object, single-threaded; rclone's multipart upload pays the same, the single curl PUT does not)")
for size in ("small", "large"):
    get, put = fig("curl GET (ceiling)", size), fig("curl PUT (ceiling)", size)
    streams = []
    for line in open(detail):
        comp, sz, src, _, secs, _, _, _, complete = line.rstrip("\n").split("\t")
        if comp == "none" and sz == size:
            streams.append(int(src) / 1048576 / (float(secs) - float(complete)))
    if streams:
        stream = statistics.median(streams)
        print(f"  chatvault {size}: streaming alone (median {stream:.1f} MiB/s, without complete) / ceiling = "
              f"{stream / min(get['mibs'], put['mibs']):.2f}x (info)")
print()

ok = True
def target(name, value, want, met):
    global ok
    ok &= met
    print(f"{name:<62} {value:>9}   target {want:<16} {'met' if met else 'MISSED'}")

for size in ("small", "large"):
    cv, rc_, get, put = (fig(l, size) for l in ("chatvault", "rclone copyurl", "curl GET (ceiling)", "curl PUT (ceiling)"))
    ceiling = min(get["mibs"], put["mibs"])
    which = "GET" if get["mibs"] <= put["mibs"] else "PUT"
    label = f"{cv['bytes'] / 1048576:.0f} MiB"
    if size == "large":
        target(f"chatvault / rclone ({label})", f"{cv['mibs'] / rc_['mibs']:.2f}x", ">= 1.2x", cv["mibs"] >= 1.2 * rc_["mibs"])
        target(f"chatvault / ceiling ({label}; ceiling {ceiling:.0f} MiB/s, {which})",
               f"{cv['mibs'] / ceiling:.2f}x", ">= 0.7x", cv["mibs"] >= 0.7 * ceiling)
    else:
        print(f"{'chatvault / rclone (' + label + ', info)':<62} {cv['mibs'] / rc_['mibs']:>8.2f}x")
        print(f"{'chatvault / ceiling (' + label + f'; ceiling {ceiling:.0f} MiB/s, ' + which + '; info)':<62} {cv['mibs'] / ceiling:>8.2f}x")
small, large = fig("chatvault", "small"), fig("chatvault", "large")
peak = max(small["rss"], large["rss"])
target("chatvault peak RSS (both sizes)", f"{peak:.1f} MiB", "<= 64 MiB", peak <= 64)
# Flat: 8x the bytes may add at most two 8 MiB parts' worth (proportional growth would be ~8x).
growth = large["rss"] - small["rss"]
target(f"chatvault RSS {large['bytes'] / 1048576:.0f} vs {small['bytes'] / 1048576:.0f} MiB file "
       f"({large['rss']:.1f} vs {small['rss']:.1f} MiB)", f"{growth:+.1f} MiB", "<= +16 MiB (flat)", growth <= 16)
print()
print("all targets met" if ok else "some targets MISSED")
sys.exit(3 if strict and not ok else 0)
EOF
exit "$rc"

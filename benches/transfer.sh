#!/usr/bin/env bash
# Benchmark: one export file, served by the emulator on 127.0.0.1, into one local S3 server
# (s3s-fs: SigV4-checking, data on tmpfs), in one run, by
#   chatvault   the release binary as users run it: `chatvault run --once JOBS` with a generated
#               global config (api.base_url = the emulator, key and secret from the environment,
#               state in a fresh local folder) and a generated job: messaging:general-000, a fixed
#               window over exactly the stretch of history the export holds, destination
#               s3://bench/<fresh prefix> with endpoint, region, path-style and credential options.
#               One due tick, one window, one batch: each run creates its own export task, polls
#               it, streams the file into the bucket and writes the manifest. No compression.
#   rclone      `rclone copyurl` (Debian's rclone, its defaults) of a link the script asked for
#   ceiling     the slower of two single-stream curl legs: a GET of the same link to /dev/null,
#               and a signed PUT of the same bytes (from tmpfs) to the same server
# at two sizes, ~256 MiB and ~2 GiB, printing seconds, MiB/s and peak RSS of each leg, then the
# ratios against the targets: chatvault >= 1.2x rclone, >= 0.7x the ceiling, peak RSS <= 64 MiB
# and flat in file size (the 2 GiB run's peak at most 16 MiB, two parts, above the 256 MiB run's).
# The targets are judged on the ~2 GiB file. An extra, labelled line: chatvault with zstd (not part
# of the targets). Also printed: CPU seconds of each leg and of both servers during it.
#
# chatvault's figures, from the process's wall time and its JSON log lines (--log-format json):
#   whole run      start to exit of `run --once` (start-up, lease, create, poll, transfer, manifest,
#                  ledger), less the pause below
#   waiting        'export task created' to 'export ready; transferring', less the pause: the poll
#   transfer only  'export ready; transferring' to 'archived': a fresh status request for the link,
#                  download -> upload (one streaming PUT when the length is known), the server's
#                  CompleteMultipartUpload if a multipart upload was used, the manifest
# The targets are judged on "transfer only", since the other legs start from a finished export;
# the whole run's ratios are printed beside them. Where the transfer's time goes comes from
# s3s-fs's own request timings (its debug log): part uploads, and CompleteMultipartUpload, which
# s3s-fs does by re-reading and copying every part (rclone pays it too, a single PUT does not).
#
# Two emulator details, handled so that every leg moves the same bytes and pays the same costs:
# - The clock is manual, and set back to the same instant before each chatvault run, so that every
#   export (chatvault's and the script's own) is taken at the same snapshot and is byte-identical:
#   chatvault's manifest (sizes, SHA-256) is checked against a curl download of the script's link.
# - The emulator learns a new task's Content-Length by generating its file once, before the first
#   byte (S3 and Stream answer at once). The script does that for its own links before timing them;
#   for chatvault's task it stops the process (SIGSTOP) as soon as it logs the task's creation,
#   moves the clock on so the task completes, asks for the file's headers itself, and resumes it
#   (SIGCONT). The pause is subtracted from chatvault's wall time, and the emulator's CPU in it.
#
#   benches/transfer.sh            # from any directory
#
# This is not a test: it exits non-zero only when something is broken (a build, a server, a
# leg failing or storing the wrong bytes), or, with BENCH_STRICT=1, when a target is missed.
#
# Needs: cargo, python3, curl, rclone, zstd, GNU time (the last four installed with apt-get when
# missing), ~8 GiB free in /dev/shm (the 2 GiB file, an object, s3s-fs's multipart parts).
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
CHANNEL_TYPE=messaging
CHANNEL_ID=general-000
S3S_FS_VERSION=0.14.1 # as scripts/test-servers
CACHE="${CHATVAULT_CACHE:-$HOME/.cache/chatvault-test}"
S3S_BIN="$CACHE/cargo/bin/s3s-fs"
# The emulator's default credentials (chatvault reads them from the environment).
STREAM_KEY=emulator-key
STREAM_SECRET=emulator-secret

# Everything is on 127.0.0.1: no proxy, no cloud metadata endpoint.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost AWS_EC2_METADATA_DISABLED=true
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf 'transfer-bench: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
# stop_pid, apt_install, install_s3s, artifact, free_port, s3curl, start_s3s, cpu_ticks, timed
. "$REPO/benches/common.sh"

# ---------------------------------------------------------------------------------------------
# work dir and cleanup (processes we started, by PID; every temp file)

TMP_BASE="${TMPDIR:-/tmp}"
[[ -d /dev/shm && -w /dev/shm ]] && TMP_BASE=/dev/shm
WORK="$(mktemp -d "$TMP_BASE/chatvault-transfer-bench.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/s3s-data"
S3S_PID=""
EMU_PID=""
PAUSER_PID=""
CV_PIDFILE="$WORK/chatvault.pid"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $rc != 0 ]]; then
        local f
        for f in "$LOGS"/*.log; do
            [[ -s "$f" ]] || continue
            [[ "${f##*/}" == s3s-fs.log ]] && continue # debug lines; kept with BENCH_KEEP=1
            say "--- tail of ${f##*/}:"
            tail -n 15 "$f" >&2 || true
        done
    fi
    stop_pid "$PAUSER_PID"
    # A chatvault run we stopped and did not get to resume (the bench was interrupted).
    if [[ -s "$CV_PIDFILE" ]]; then
        kill -CONT "$(cat "$CV_PIDFILE")" 2>/dev/null || true
        stop_pid "$(cat "$CV_PIDFILE")"
    fi
    stop_pid "$EMU_PID"
    stop_pid "$S3S_PID"
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        rm -rf "$WORK/s3s-data" "$WORK"/export-* "$WORK/object"
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


need=()
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
command -v rclone >/dev/null || need+=(rclone)
command -v zstd >/dev/null || need+=(zstd)
[[ -x /usr/bin/time ]] || need+=(time)
command -v sha256sum >/dev/null || need+=(coreutils)
[[ ${#need[@]} == 0 ]] || apt_install "${need[@]}"
command -v cargo >/dev/null || die "cargo not found"
need_signing_curl

install_s3s

# ---------------------------------------------------------------------------------------------
# build: chatvault and the emulator, release, in one cargo call

say "building release binaries (chatvault, chatvault-emulator; cold: ~15 min on 2 cores)"
build_release
EMU_BIN=$(artifact chatvault-emulator)
CV_BIN=$(artifact chatvault)

# ---------------------------------------------------------------------------------------------
# servers

start_s3s "$WORK/s3s-data"

: >"$LOGS/emulator.log" # exists before the emulator's redirection, which races the loop below
"$EMU_BIN" --port 0 --clock manual --channels-per-type 1 --truncated-per-type 0 \
    --soft-deleted-per-type 0 --messages-per-day "$MESSAGES_PER_DAY" --days "$DAYS" \
    --api-key "$STREAM_KEY" </dev/null >"$LOGS/emulator.log" 2>&1 &
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
    curl -sS --fail-with-body --max-time 30 -X "$1" "$EMU$2?api_key=$STREAM_KEY" \
        -H "Authorization: $TOKEN" -H "Stream-Auth-Type: jwt" ${3:+-d "$3"}
}
clock() { # PATH BODY: moves the emulator's clock
    curl -sS --fail --max-time 10 -X POST "$EMU/_emulator/clock/$1" -d "$2" >/dev/null
}
TOKEN=$(curl -sS --fail --max-time 10 -X POST "$EMU/_emulator/token" -d '{}' | json_field 'd["token"]')
# Every export task is created at this instant of the emulator's clock (its snapshot).
SNAPSHOT=$(curl -sS --fail --max-time 10 "$EMU/_emulator/clock" | json_field 'd["now"]')
# The windows, in whole seconds: [now - DAYS, now + 1 s) holds the whole history (messages exist
# up to the snapshot), [now - SMALL_DAYS, now + 1 s) its last days.
read -r LARGE_SINCE SMALL_SINCE UNTIL < <(python3 - "$SNAPSHOT" "$DAYS" "$SMALL_DAYS" <<'PY'
import sys
from datetime import datetime, timedelta
now = datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
print(fmt(now - timedelta(days=int(sys.argv[2]))), fmt(now - timedelta(days=int(sys.argv[3]))),
      fmt(now + timedelta(seconds=1)))
PY
)
export_task() { # SINCE: the script's own export of the channel's [SINCE, UNTIL), as chatvault asks
    api POST /export_channels "{\"channels\":[{\"type\":\"$CHANNEL_TYPE\",\"id\":\"$CHANNEL_ID\",\
\"messages_since\":\"$1\",\"messages_until\":\"$UNTIL\"}],\"version\":\"v2\"}" | json_field 'd["task_id"]'
}
TASK_LARGE=$(export_task "$LARGE_SINCE")
TASK_SMALL=$(export_task "$SMALL_SINCE")
# Tasks take 2 + 3 + 5 s of the emulator's (manual) clock to complete.
clock advance '{"seconds": 60}'
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
say "exports: large $(mib "$BYTES_LARGE") MiB, small $(mib "$BYTES_SMALL") MiB ($CHANNEL_TYPE:$CHANNEL_ID, v2)"

# ---------------------------------------------------------------------------------------------
# legs

RESULTS="$WORK/results.tsv" # leg size bytes seconds rss_kib cpu_leg cpu_emulator cpu_s3s
: >"$RESULTS"
DETAIL="$WORK/detail.tsv" # leg size run whole wait transfer parts part_ms complete_s bytes_stored sizing_s
: >"$DETAIL"
LEG_SECS=""
LEG_RSS=""
LEG_CPU=""
LEG_S3S_FROM=0
CLK_TCK=$(getconf CLK_TCK)

record() { # LEG SIZE BYTES
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$LEG_SECS" "$LEG_RSS" "$LEG_CPU" >>"$RESULTS"
    say "  $1: $(mib "$3") MiB in ${LEG_SECS}s, peak RSS $((LEG_RSS / 1024)) MiB"
}

# s3s-fs's requests since LEG_S3S_FROM: "<UploadPart count> <mean UploadPart ms> <CompleteMultipartUpload s>"
cat >"$WORK/s3s_ops.py" <<'PY'
import re, sys
from collections import defaultdict
log, start = sys.argv[1], int(sys.argv[2])
with open(log, "rb") as f:
    f.seek(start)
    text = f.read().decode("utf-8", "replace")
op, took = {}, {}
# An event: "  <time> DEBUG target: message", then indented "at" and "in ... start_time: ..." lines.
for event in re.split(r"\n(?=  \d{4}-\d\d-\d\dT)", text):
    call = re.search(r"in s3s::service::call with start_time: (.+)", event)
    if not call:
        continue
    m = re.search(r"resolved route, op: (\w+)", event)
    if m:
        op[call.group(1)] = m.group(1)
    m = re.search(r"s3s::service: duration: ([\d.]+)(ns|µs|us|ms|s),", event)
    if m:
        took[call.group(1)] = float(m.group(1)) * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]
by = defaultdict(list)
for call, name in op.items():
    if call in took:
        by[name].append(took[call])
parts = by["UploadPart"]
print(len(parts), f"{1000 * sum(parts) / max(len(parts), 1):.1f}", f"{sum(by['CompleteMultipartUpload']):.3f}")
PY
s3s_ops() { python3 "$WORK/s3s_ops.py" "$LOGS/s3s-fs.log" "$LEG_S3S_FROM"; }

s3_delete() { # KEY
    s3curl -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X DELETE -o /dev/null "$S3/$BUCKET/$1"
}
object_size() { # KEY
    s3s_head=$(s3curl -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -I "$S3/$BUCKET/$1" | tr -d '\r')
    awk 'tolower($1) == "content-length:" {print $2}' <<<"$s3s_head"
}
check_object() { # KEY WANT_BYTES: the stored object has that size; then it is deleted
    local got
    got=$(object_size "$1")
    [[ "$got" == "$2" ]] || die "$1 stored as ${got:-nothing} bytes, want $2"
    s3_delete "$1"
}

export CHATVAULT_BENCH_ACCESS_KEY="$AK" CHATVAULT_BENCH_SECRET_KEY="$SK"
# rclone's S3 remote `bench:` from the environment only (an empty config file).
: >"$WORK/rclone.conf"
export RCLONE_CONFIG="$WORK/rclone.conf" RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
    RCLONE_CONFIG_BENCH_ENDPOINT="$S3" RCLONE_CONFIG_BENCH_REGION="$REGION" \
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AK" RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$SK" \
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true

# chatvault's configuration for one run: a global config and one job, in a fresh folder, whose
# state and archive prefix no other run uses (so each run exports afresh).
write_chatvault_config() { # DIR SINCE COMPRESSION PREFIX
    local dir=$1 since=$2 compression=$3 prefix=$4
    mkdir -p "$dir/jobs"
    cat >"$dir/chatvault.yaml" <<YAML
# Written by benches/transfer.sh for one run.
api:
  key: \${STREAM_API_KEY}
  secret: \${STREAM_API_SECRET}
  base_url: $EMU
state:
  url: file://state
YAML
    cat >"$dir/jobs/transfer-bench.yaml" <<YAML
# Written by benches/transfer.sh: one due tick (the job never ran), one fixed window over exactly
# the export's stretch of history, one channel, so one batch.
name: transfer-bench
schedule: "@daily"
window:
  mode: fixed
  since: $since
  until: $UNTIL
channels:
  - cid: $CHANNEL_TYPE:$CHANNEL_ID
export:
  version: v2
destination:
  url: s3://$BUCKET/$prefix
  compression: $compression
  options:
    aws_endpoint: $S3
    aws_region: $REGION
    aws_allow_http: "true"
    aws_virtual_hosted_style_request: "false"
    aws_access_key_id: \${CHATVAULT_BENCH_ACCESS_KEY}
    aws_secret_access_key: \${CHATVAULT_BENCH_SECRET_KEY}
YAML
}

# Runs in the background beside a chatvault run: once the run logs its task's creation, stops
# it, completes the task (the clock), has the emulator size the file (a HEAD of a fresh link),
# and resumes it. Writes "<paused s> <sizing s> <emulator CPU ticks while paused>" to OUT.
pause_for_sizing() { # LOG OUT
    local log=$1 out=$2 pid="" task="" t_stop t_sized url emu0 _
    set +e
    for _ in $(seq 1500); do # 30 s
        [[ -s "$CV_PIDFILE" ]] && task=$(grep -m1 '"export task created"' "$log" 2>/dev/null \
            | grep -o '"task_id":"[^"]*"' | cut -d'"' -f4)
        [[ -n "$task" ]] && break
        sleep 0.02
    done
    [[ -n "$task" ]] || { echo "no task created within 30 s" >"$out"; return 1; }
    pid=$(cat "$CV_PIDFILE")
    kill -STOP "$pid" || { echo "could not stop $pid" >"$out"; return 1; }
    t_stop=$(date +%s.%N)
    emu0=$(cpu_ticks "$EMU_PID")
    clock advance '{"seconds": 60}' \
        && url=$(api GET "/export_channels/$task" | json_field 'd["result"]["url"]') \
        && content_length "$url" >/dev/null
    local ok=$?
    t_sized=$(date +%s.%N)
    local emu_ticks=$(($(cpu_ticks "$EMU_PID") - emu0))
    kill -CONT "$pid"
    python3 -c "print(f'{$(date +%s.%N) - $t_stop:.3f} {$t_sized - $t_stop:.3f} $emu_ticks')" >"$out"
    [[ $ok == 0 ]] || { echo "could not complete and size task $task" >"$out"; return 1; }
}

declare -A SHA
chatvault_leg() { # COMPRESSION SIZE RUN SINCE BYTES
    local comp=$1 size=$2 run=$3 since=$4 bytes=$5
    local dir="$WORK/chatvault-$comp-$size-$run" prefix="chatvault-$comp-$size-$run"
    local leg=chatvault-$comp log="$LOGS/chatvault-$comp.log" paused="$WORK/paused.txt"
    local pause sizing emu_ticks
    write_chatvault_config "$dir" "$since" "$comp" "$prefix"
    # Every export is taken at the same snapshot, so chatvault's file is the script's, byte for byte.
    clock set "{\"now\": \"$SNAPSHOT\"}"
    rm -f "$CV_PIDFILE" "$log" "$paused"
    pause_for_sizing "$log" "$paused" &
    PAUSER_PID=$!
    # env and sh exec: the pid written is chatvault's, and /usr/bin/time measures chatvault.
    # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
    timed "$leg" env STREAM_API_KEY="$STREAM_KEY" STREAM_API_SECRET="$STREAM_SECRET" CHATVAULT_LOG=info \
        sh -c 'echo $$ >"$0"; exec "$@"' "$CV_PIDFILE" \
        "$CV_BIN" --log-format json run --once "$dir/jobs"
    wait "$PAUSER_PID" || die "pausing chatvault for the emulator's sizing: $(cat "$paused" 2>/dev/null)"
    PAUSER_PID=""
    rm -f "$CV_PIDFILE"
    read -r pause sizing emu_ticks <"$paused"
    # The pause is no part of chatvault's run: off its wall time and off the emulator's CPU.
    LEG_SECS=$(python3 -c "print(f'{$LEG_SECS - $pause:.3f}')")
    LEG_CPU=$(awk -F'\t' -v t="$emu_ticks" -v hz="$CLK_TCK" '{printf "%s\t%.2f\t%s", $1, $2 - t / hz, $3}' <<<"$LEG_CPU")

    local parsed key src stored wait transfer
    parsed=$(python3 - "$log" "$pause" <<'PY'
import json, sys
from datetime import datetime
log, pause = sys.argv[1], float(sys.argv[2])
at, archived = {}, None
for line in open(log):
    try:
        e = json.loads(line)
    except ValueError:
        continue  # the summary line on stdout
    if not isinstance(e, dict) or "message" not in e:
        continue
    at.setdefault(e["message"], datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp())
    if e["message"] == "archived":
        archived = e
need = ["export task created", "export ready; transferring", "archived", "run succeeded"]
missing = [m for m in need if m not in at]
if missing or archived is None:
    sys.exit(f"chatvault's log lacks {missing}")
wait = at["export ready; transferring"] - at["export task created"] - pause
transfer = at["archived"] - at["export ready; transferring"]
print(archived["key"], archived["bytes_source"], archived["bytes_stored"], f"{wait:.3f}", f"{transfer:.3f}")
PY
) || die "reading chatvault's log lines"
    read -r key src stored wait transfer <<<"$parsed"

    # The manifest chatvault wrote is the record to check: sizes, SHA-256, encoding.
    local manifest="$prefix/$key.manifest.json" m_src m_stored m_sha m_enc
    read -r m_src m_stored m_sha m_enc < <(s3curl --fail -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "$S3/$BUCKET/$manifest" | json_field '" ".join(str(d[k]) for k in ("bytes_source", "bytes_stored", "sha256", "content_encoding"))') \
        || die "reading the manifest $manifest"
    [[ "$m_src" == "$bytes" && "$src" == "$bytes" ]] || die "chatvault ($comp) read $m_src bytes, want $bytes"
    [[ "$m_stored" == "$stored" && "$m_enc" == "$comp" ]] || die "manifest $manifest: $m_stored bytes, $m_enc; the log said $stored"
    if [[ "$comp" == none ]]; then
        [[ "$m_stored" == "$bytes" && "$m_sha" == "${SHA[$size]}" ]] \
            || die "chatvault stored $m_stored bytes with SHA-256 $m_sha; the export is $bytes bytes, ${SHA[$size]}"
        check_object "$prefix/$key" "$bytes"
    else
        # The stored object is what the manifest says, and unpacks to the export.
        CURL_MAX_TIME=$LEG_TIMEOUT s3curl --fail -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
            -o "$WORK/object" "$S3/$BUCKET/$prefix/$key"
        local got unpacked
        got=$(sha256sum "$WORK/object" | cut -d' ' -f1)
        unpacked=$(zstd -dc "$WORK/object" | sha256sum | cut -d' ' -f1)
        rm -f "$WORK/object"
        [[ "$got" == "$m_sha" && "$unpacked" == "${SHA[$size]}" ]] \
            || die "the zstd archive's SHA-256 is $got (manifest $m_sha), unpacked $unpacked (export ${SHA[$size]})"
        check_object "$prefix/$key" "$m_stored"
    fi
    s3_delete "$manifest"

    local parts part_ms complete
    read -r parts part_ms complete < <(s3s_ops)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$leg" "$size" "$run" "$LEG_SECS" "$wait" \
        "$transfer" "$parts" "$part_ms" "$complete" "$m_stored" "$sizing" >>"$DETAIL"
    say "  ($leg: whole run ${LEG_SECS}s = waiting for the export ${wait}s + transfer ${transfer}s" \
        "(of which CompleteMultipartUpload ${complete}s, $parts parts) + the rest;" \
        "paused ${pause}s while the emulator sized the file)"
}

run_size() { # LABEL URL BYTES SINCE
    local size=$1 url=$2 bytes=$3 since=$4 run key file="$WORK/export-$1"
    say "$size ($(mib "$bytes") MiB):"
    # The export's bytes, for the signed PUT and to check every archive against.
    curl -sS --fail --max-time "$LEG_TIMEOUT" -o "$file" "$url"
    [[ "$(stat -c %s "$file")" == "$bytes" ]] || die "downloaded $(stat -c %s "$file") bytes of $url, want $bytes"
    SHA[$size]=$(sha256sum "$file" | cut -d' ' -f1)
    for run in $(seq "$RUNS"); do
        # curl GET to /dev/null: the download half of the ceiling.
        timed curl-get curl -sS --fail -o /dev/null -w '%{size_download}\n' "$url"
        got=$(tail -n 1 "$LOGS/curl-get.log")
        [[ "$got" == "$bytes" ]] || die "curl GET read $got bytes, want $bytes"
        record "curl GET (ceiling)" "$size" "$bytes"

        # chatvault run --once, no compression.
        chatvault_leg none "$size" "$run" "$since" "$bytes"
        record "chatvault" "$size" "$bytes"

        # rclone copyurl, defaults.
        key="rclone-$size-$run.jsonl"
        # (AWS_CA_BUNDLE, if set, makes rclone's S3 client refuse to start; all is plain http.)
        timed rclone env -u AWS_CA_BUNDLE rclone copyurl --s3-no-check-bucket "$url" "bench:$BUCKET/$key"
        check_object "$key" "$bytes"
        record "rclone copyurl" "$size" "$bytes"
        read -r parts part_ms complete < <(s3s_ops)
        printf '%s\t%s\t%s\t%s\t\t\t%s\t%s\t%s\t%s\t\n' "rclone" "$size" "$run" "$LEG_SECS" \
            "$parts" "$part_ms" "$complete" "$bytes" >>"$DETAIL"

        if [[ "$ZSTD_LEG" == 1 ]]; then
            chatvault_leg zstd "$size" "$run" "$since" "$bytes"
            record "chatvault zstd (extra)" "$size" "$bytes"
        fi

        # curl PUT of the same bytes from tmpfs, payload hash signed (computed beforehand):
        # the upload half of the ceiling.
        key="curl-put-$size-$run.jsonl"
        timed curl-put curl -sS --fail --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:$SK" \
            -H "x-amz-content-sha256: ${SHA[$size]}" -T "$file" -o /dev/null "$S3/$BUCKET/$key"
        check_object "$key" "$bytes"
        record "curl PUT (ceiling)" "$size" "$bytes"
    done
    rm -f "$file"
}

say "emulator: generated the large file for its Content-Length in ${GEN_SECS_LARGE}s (generation alone)"
run_size small "$URL_SMALL" "$BYTES_SMALL" "$SMALL_SINCE"
run_size large "$URL_LARGE" "$BYTES_LARGE" "$LARGE_SINCE"

# ---------------------------------------------------------------------------------------------
# report

COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] || COMMIT="$COMMIT (+ uncommitted changes)"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)

rc=0
python3 - "$RESULTS" "$STRICT" "$DETAIL" <<EOF_PY || rc=$?
import statistics, sys
from collections import defaultdict

results, strict, detail = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
runs = defaultdict(list)
for line in open(results):
    leg, size, nbytes, secs, rss, cpu, cpu_emu, cpu_s3s = line.rstrip("\n").split("\t")
    runs[(leg, size)].append((int(nbytes), float(secs), int(rss), float(cpu), float(cpu_emu), float(cpu_s3s)))
details = defaultdict(list)
for line in open(detail):
    leg, size, run, whole, wait, transfer, parts, part_ms, complete, stored, sizing = line.rstrip("\n").split("\t")
    num = lambda v: float(v) if v else None
    details[(leg, size)].append({"whole": float(whole), "wait": num(wait), "transfer": num(transfer),
                                 "parts": int(parts), "part_ms": float(part_ms), "complete": float(complete),
                                 "stored": int(stored), "sizing": num(sizing)})

def fig(leg, size):
    r = sorted(runs[(leg, size)], key=lambda x: x[1])
    mid = r[len(r) // 2]  # the median run (by seconds)
    nbytes, secs = mid[0], mid[1]
    return {"bytes": nbytes, "secs": secs, "mibs": nbytes / 1048576 / secs,
            "rss": max(x[2] for x in r) / 1024, "cpu": mid[3:]}

def transfer_only(leg, size):
    """chatvault's 'export ready; transferring' -> 'archived', median over the runs."""
    nbytes = runs[("chatvault" if leg == "chatvault-none" else "chatvault zstd (extra)", size)][0][0]
    secs = statistics.median(d["transfer"] for d in details[(leg, size)])
    return {"bytes": nbytes, "secs": secs, "mibs": nbytes / 1048576 / secs}

def median_run(leg, size):
    d = sorted(details[(leg, size)], key=lambda x: x["whole"])
    return d[len(d) // 2]

print()
print("transfer benchmark: emulator (127.0.0.1) -> s3s-fs $S3S_FS_VERSION (127.0.0.1, SigV4 checked, data on tmpfs)")
print("machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -r); commit $COMMIT; $(rustc --version 2>/dev/null || echo rustc ?)")
print("chatvault leg = \`chatvault run --once JOBS\` (release binary; generated config and job, fresh state and")
print("  prefix each run: one tick, one window, one batch); no compression; 8 MiB parts, <= 32 MiB in flight")
print("  whole run = the process, start to exit (less the bench's pause while the emulator sized the file);")
print("  transfer only = its log lines 'export ready; transferring' -> 'archived' (link, stream, complete, manifest)")
print("rclone leg = $(rclone version 2>/dev/null | head -n 1) copyurl, defaults: one HTTP stream in,")
print("  multipart 5 MiB chunks x 4 concurrent (--s3-chunk-size/--s3-upload-concurrency), cutoff 200 MiB")
print("ceiling = min(curl GET -> /dev/null, curl --aws-sigv4 PUT from tmpfs with signed payload hash)")
print("emulator: $MESSAGES_PER_DAY msgs/day; large = $DAYS days, small = last $SMALL_DAYS days; "
      "generated the large file alone (Content-Length pass) at "
      f"{$BYTES_LARGE / 1048576 / $GEN_SECS_LARGE:.0f} MiB/s")
print(f"runs per leg: $RUNS (median seconds, max RSS)")
print()
print(f"{'leg':<24} {'size':>6} {'MiB':>8} {'seconds':>8} {'MiB/s':>7} {'peak RSS MiB':>13}   "
      f"{'CPU s: leg':>10} {'emulator':>8} {'s3s-fs':>6} {'cores busy':>10}")
rows = [("chatvault", "chatvault run --once", "chatvault-none"), ("rclone copyurl", "rclone copyurl", None),
        ("curl GET (ceiling)", "curl GET (ceiling)", None), ("curl PUT (ceiling)", "curl PUT (ceiling)", None),
        ("chatvault zstd (extra)", "chatvault zstd (extra)", "chatvault-zstd")]
for size in ("small", "large"):
    for leg, label, detail_leg in rows:
        if (leg, size) not in runs:
            continue
        f = fig(leg, size)
        c = f["cpu"]
        print(f"{label:<24} {size:>6} {f['bytes'] / 1048576:>8.1f} {f['secs']:>8.2f} {f['mibs']:>7.1f} {f['rss']:>13.1f}   "
              f"{c[0]:>10.2f} {c[1]:>8.2f} {c[2]:>6.2f} {sum(c) / f['secs']:>10.2f}")
        if detail_leg:
            t = transfer_only(detail_leg, size)
            print(f"{'  transfer only':<24} {size:>6} {t['bytes'] / 1048576:>8.1f} {t['secs']:>8.2f} {t['mibs']:>7.1f}")
print(f"(cores busy = CPU seconds of the leg, the emulator and s3s-fs over wall seconds; this machine has $(nproc))")
print()
print("where chatvault's run goes (the median run; its JSON log lines, and s3s-fs's own request timings):")
for leg in ("chatvault-none", "chatvault-zstd"):
    for size in ("small", "large"):
        if (leg, size) not in details:
            continue
        d = median_run(leg, size)
        rest = d["whole"] - d["wait"] - d["transfer"]
        stream = d["transfer"] - d["complete"]
        src = runs[("chatvault", size)][0][0] / 1048576
        print(f"  {leg[10:]:<5} {size:<6} whole {d['whole']:6.2f} s = waiting for the export {d['wait']:5.2f} s + transfer "
              f"{d['transfer']:6.2f} s + start-up, create, ledger {rest:4.2f} s; transfer = streaming {stream:6.2f} s "
              f"({src / stream:6.1f} MiB/s in; {d['parts']} parts of {d['stored'] / max(d['parts'], 1) / 1048576:4.1f} MiB, "
              f"{d['part_ms']:5.1f} ms each at the server) + complete {d['complete']:5.2f} s")
for size in ("small", "large"):
    if ("rclone", size) in details:
        d = median_run("rclone", size)
        if d["parts"]:
            print(f"  rclone {size:<6} {d['whole']:6.2f} s: {d['parts']} parts, {d['part_ms']:5.1f} ms each at the server, "
                  f"complete {d['complete']:5.2f} s")
        else:
            print(f"  rclone {size:<6} {d['whole']:6.2f} s: one PUT (under its multipart cutoff)")
print("  (complete = s3s-fs's CompleteMultipartUpload: it re-reads every part, MD5s it and copies it into")
print("   the object, single-threaded; rclone's multipart upload pays the same, the single curl PUT does not;")
print("   waiting = what is left of chatvault's first poll interval, 1 s after the create, once the pause")
print("   ends: the emulator's export is ready as soon as the bench moves its clock)")
sizing = [d["sizing"] for k, v in details.items() if k[0].startswith("chatvault") and k[1] == "large" for d in v]
if sizing:
    print(f"  (not counted: the emulator sizing chatvault's large file while the bench held the run, "
          f"median {statistics.median(sizing):.2f} s)")
for size in ("small", "large"):
    get, put = fig("curl GET (ceiling)", size), fig("curl PUT (ceiling)", size)
    streams = [runs[("chatvault", size)][0][0] / 1048576 / (d["transfer"] - d["complete"]) for d in details[("chatvault-none", size)]]
    if streams:
        stream = statistics.median(streams)
        print(f"  chatvault {size}: streaming alone (median {stream:.1f} MiB/s, without complete) / ceiling = "
              f"{stream / min(get['mibs'], put['mibs']):.2f}x (info)")
print()

ok = True
def target(name, value, want, met):
    global ok
    ok &= met
    print(f"{name:<74} {value:>9}   target {want:<16} {'met' if met else 'MISSED'}")
def info(name, value):
    print(f"{name + ' (info)':<74} {value:>9}")

for size in ("small", "large"):
    whole, rc_, get, put = (fig(l, size) for l in ("chatvault", "rclone copyurl", "curl GET (ceiling)", "curl PUT (ceiling)"))
    cv = transfer_only("chatvault-none", size)
    ceiling = min(get["mibs"], put["mibs"])
    which = "GET" if get["mibs"] <= put["mibs"] else "PUT"
    label = f"{cv['bytes'] / 1048576:.0f} MiB"
    if size == "large":
        target(f"chatvault transfer only / rclone ({label})", f"{cv['mibs'] / rc_['mibs']:.2f}x", ">= 1.2x",
               cv["mibs"] >= 1.2 * rc_["mibs"])
        target(f"chatvault transfer only / ceiling ({label}; ceiling {ceiling:.0f} MiB/s, {which})",
               f"{cv['mibs'] / ceiling:.2f}x", ">= 0.7x", cv["mibs"] >= 0.7 * ceiling)
    else:
        info(f"chatvault transfer only / rclone ({label})", f"{cv['mibs'] / rc_['mibs']:.2f}x")
        info(f"chatvault transfer only / ceiling ({label}; ceiling {ceiling:.0f} MiB/s, {which})", f"{cv['mibs'] / ceiling:.2f}x")
    info(f"chatvault whole run / rclone ({label})", f"{whole['mibs'] / rc_['mibs']:.2f}x")
    info(f"chatvault whole run / ceiling ({label})", f"{whole['mibs'] / ceiling:.2f}x")
    # What no multipart client can beat here: the slower curl leg plus the server's own
    # completion of the upload (chatvault's median), which a single PUT does not pay.
    complete = statistics.median(d["complete"] for d in details[("chatvault-none", size)])
    floor = cv["bytes"] / 1048576 / ceiling + complete
    info(f"chatvault transfer only / (ceiling + complete {complete:.1f} s) ({label})",
         f"{floor / cv['secs']:.2f}x")
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
EOF_PY
exit "$rc"

#!/usr/bin/env bash
# Benchmark: capturing the files an archive links to, from the emulator's CDN (127.0.0.1) into
# one local S3 server (s3s-fs: SigV4-checking, data on tmpfs), in one run, on the same files, by
#   chatvault   the release binary as users run it. Each run: a generated global config (the
#               emulator as api.base_url, key and secret from the environment, fresh local
#               state) and job (the data set's channels, a fixed window over their whole
#               history, s3://bench/<fresh prefix>, media: {hosts: [localhost], allow_http,
#               allow_private_addresses, concurrency: 8}); first `chatvault run --once` with
#               media.capture: false (the archive alone, not timed), then the job with
#               media.capture: true and the timed leg, `chatvault media --job media-bench
#               --max-files <all>`: it reads the archive once for its links, fetches each
#               distinct link path once (8 at a time), hashes and sniffs it on the way into a
#               temporary file, HEADs its content key and stores it create-only, and writes
#               the archive's media record. So the leg is the media pass alone (plus the
#               process's start-up, the listing and one read of the archive: well under 1 s).
#   anchor      a parallel curl pipeline over the same distinct links, fresh and signed (read
#               from an export of the same channels and window the script asks the emulator
#               for), 8 at a time (`xargs -P 8`), each
#                 curl GET <link> | tee <fifo of sha256sum> | curl PUT <presigned URL>
#               into the same bucket: the same downloads and uploads, hashed on the way. Its
#               PUT is given the file's length (from the emulator's ground truth), so it is one
#               streaming PUT per file whatever the size; the URL is presigned (SigV4 in the
#               query, UNSIGNED-PAYLOAD), so neither curl nor s3s-fs hashes the payload for it.
# printing seconds, MiB/s (the distinct files' bytes over the leg's wall time), peak RSS and
# CPU seconds of each leg (and of the emulator and s3s-fs during it), then the ratios against
# the targets: chatvault >= 0.8x the pipeline's throughput, chatvault's peak RSS <= 96 MiB.
# The pipeline's RSS is its largest single process (GNU time's figure for a process tree).
# Where the time goes comes from s3s-fs's own request timings (its debug log): HEADs, single
# PUTs, multipart parts and CompleteMultipartUpload, which s3s-fs does by re-reading and
# copying every part.
#
# Every leg is checked: chatvault's media record lists every reference of the data set as
# stored (or already stored, for a repeated file) with the SHA-256 and size of the emulator's
# ground truth, and s3s-fs holds each distinct file once at its content key with that size;
# every pipeline hash and object matches the ground truth too.
#
#   benches/media.sh                # from any directory
#   BENCH_QUICK=1 benches/media.sh  # 100 files of 50 KiB to 2 MiB, one run: to try it out
#
# This is not a test: it exits non-zero only when something is broken (a build, a server, a
# leg failing or storing the wrong bytes), or, with BENCH_STRICT=1, when a target is missed.
#
# Needs: cargo, python3, curl (>= 7.86), GNU time (the last two installed with apt-get when
# missing), about 2.5x the files' bytes free in /dev/shm (one leg's objects at a time, and
# s3s-fs's multipart parts). s3s-fs is installed the way scripts/test-servers does it, into
# the same cache.
#
# Knobs (environment):
#   BENCH_FILES=1000          distinct files
#   BENCH_REFS=2000           references to them (each message carries one; the files go round
#                             in turns, so each is referenced REFS/FILES times)
#   BENCH_MIN_SIZE=50KiB      the smallest file (sizes are drawn log-uniformly by the emulator)
#   BENCH_MAX_SIZE=20MiB      the largest
#   BENCH_DAYS=4              days of history the references are spread over
#   BENCH_CONCURRENCY=8       media.concurrency, and the pipeline's xargs -P
#   BENCH_RUNS=3              runs of each leg (the median run by seconds, max RSS reported)
#   BENCH_QUICK=0             1: FILES=100 REFS=200 MAX_SIZE=2MiB RUNS=1 unless set
#   BENCH_UNSIGNED=1          0 skips the extra leg (not part of the targets): chatvault with the
#                             destination option aws_unsigned_payload: "true", so that neither
#                             object_store nor s3s-fs hashes the payload for SigV4, as the
#                             pipeline's PUT does not (it cannot know the hash before it streams)
#   BENCH_LEG_TIMEOUT=1800    seconds any one leg may take
#   BENCH_STRICT=0            1: exit 3 when a target is missed
#   BENCH_KEEP=0              1: keep the work dir (logs; the data is removed regardless)
#   CHATVAULT_CACHE           where s3s-fs is installed (default ~/.cache/chatvault-test)
#   CARGO_TARGET_DIR          honoured by the build
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QUICK="${BENCH_QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    FILES="${BENCH_FILES:-100}"
    REFS="${BENCH_REFS:-200}"
    MAX_SIZE="${BENCH_MAX_SIZE:-2MiB}"
    RUNS="${BENCH_RUNS:-1}"
else
    FILES="${BENCH_FILES:-1000}"
    REFS="${BENCH_REFS:-2000}"
    MAX_SIZE="${BENCH_MAX_SIZE:-20MiB}"
    RUNS="${BENCH_RUNS:-3}"
fi
MIN_SIZE="${BENCH_MIN_SIZE:-50KiB}"
DAYS="${BENCH_DAYS:-4}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
LEG_TIMEOUT="${BENCH_LEG_TIMEOUT:-1800}"
STRICT="${BENCH_STRICT:-0}"
UNSIGNED_LEG="${BENCH_UNSIGNED:-1}"
WAIT_SECS=30
REGION=us-east-1
BUCKET=bench
JOB=media-bench
CHANNELS_PER_TYPE=1 # messaging, team, livestream: three channels
CHANNELS=3
S3S_FS_VERSION=0.14.1 # as scripts/test-servers
CACHE="${CHATVAULT_CACHE:-$HOME/.cache/chatvault-test}"
S3S_BIN="$CACHE/cargo/bin/s3s-fs"
# The emulator's default credentials (chatvault reads them from the environment).
STREAM_KEY=emulator-key
STREAM_SECRET=emulator-secret

# Everything is on 127.0.0.1: no proxy, no cloud metadata endpoint.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost AWS_EC2_METADATA_DISABLED=true
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf 'media-bench: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
# stop_pid, apt_install, install_s3s, artifact, free_port, s3curl, start_s3s, cpu_ticks, timed
. "$REPO/benches/common.sh"

[[ "$FILES" =~ ^[1-9][0-9]*$ && "$REFS" =~ ^[1-9][0-9]*$ && "$RUNS" =~ ^[1-9][0-9]*$ ]] \
    || die "BENCH_FILES, BENCH_REFS and BENCH_RUNS are whole numbers above 0"
(( REFS >= FILES )) || die "BENCH_REFS ($REFS) is below BENCH_FILES ($FILES): some files would never be referenced"
# Every message carries one reference; the history is CHANNELS x DAYS x messages a day.
MESSAGES_PER_DAY=$(( (REFS + CHANNELS * DAYS - 1) / (CHANNELS * DAYS) ))

# ---------------------------------------------------------------------------------------------
# work dir and cleanup (processes we started, by PID; every temp file)

TMP_BASE="${TMPDIR:-/tmp}"
[[ -d /dev/shm && -w /dev/shm ]] && TMP_BASE=/dev/shm
WORK="$(mktemp -d "$TMP_BASE/chatvault-media-bench.XXXXXX")"
LOGS="$WORK/logs"
DATA="$WORK/s3s-data"
mkdir -p "$LOGS" "$DATA"
S3S_PID=""
EMU_PID=""

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
    stop_pid "$EMU_PID"
    stop_pid "$S3S_PID"
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        rm -rf "$DATA"
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
[[ -x /usr/bin/time ]] || need+=(time)
command -v sha256sum >/dev/null || need+=(coreutils)
command -v xargs >/dev/null || need+=(findutils)
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

start_s3s "$DATA"

# The history ends at START (a whole second); the window [SINCE, UNTIL) holds all of it. Real
# clock, tasks complete at once, links live ten years: nothing here waits or expires.
read -r START SINCE UNTIL < <(python3 - "$DAYS" <<'PY'
import sys
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
print(fmt(now), fmt(now - timedelta(days=int(sys.argv[1]) + 1)), fmt(now + timedelta(seconds=1)))
PY
)
: >"$LOGS/emulator.log" # exists before the emulator's redirection, which races the loop below
"$EMU_BIN" --port 0 --clock real --start-time "$START" --channels-per-type "$CHANNELS_PER_TYPE" \
    --truncated-per-type 0 --soft-deleted-per-type 0 --messages-per-day "$MESSAGES_PER_DAY" \
    --days "$DAYS" --media-every 1 --media-distinct "$FILES" --media-sizes "$MIN_SIZE..$MAX_SIZE" \
    --link-lifetime 3650d --waiting-secs 0 --pending-secs 0 --running-secs 0 \
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
TOKEN=$(curl -sS --fail --max-time 10 -X POST "$EMU/_emulator/token" -d '{}' | json_field 'd["token"]')
CIDS=$(curl -sS --fail --max-time 10 "$EMU/_emulator/channels" | json_field '" ".join(c["cid"] for c in d)')

# The ground truth: every reference, its file's path, size and SHA-256 (the emulator hashes
# each file once, here, before anything is timed).
t0=$(date +%s.%N)
curl -sS --fail --max-time 1200 "$EMU/_emulator/media_truth" >"$WORK/truth.json" || die "reading the media ground truth"
TRUTH_SECS=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')")
# truth.tsv: path size sha256, one line per distinct file
read -r N_REFS N_FILES BYTES < <(python3 - "$WORK/truth.json" "$WORK/truth.tsv" "$SINCE" "$UNTIL" <<'PY'
import json, sys
truth, out, since, until = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
refs = [r for r in truth if not r["foreign"]]
if len(refs) != len(truth):
    sys.exit("the benchmark's data set links to another site")
files = {}
for r in refs:
    files[r["path"]] = (r["size"], r["sha256"])
with open(out, "w") as f:
    for path, (size, sha) in sorted(files.items()):
        f.write(f"{path}\t{size}\t{sha}\n")
print(len(refs), len(files), sum(s for s, _ in files.values()))
PY
) || die "reading the media ground truth"
[[ "$N_FILES" == "$FILES" ]] || die "the emulator's data set has $N_FILES distinct files, want $FILES"
mib() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }
say "data set: $N_REFS references to $N_FILES distinct files ($MIN_SIZE..$MAX_SIZE), $(mib "$BYTES") MiB" \
    "in all; $CIDS; hashed by the emulator in ${TRUTH_SECS}s"

# ---------------------------------------------------------------------------------------------
# legs

RESULTS="$WORK/results.tsv" # leg run seconds rss_kib cpu_leg cpu_emulator cpu_s3s ops
: >"$RESULTS"
LEG_SECS=""
LEG_RSS=""
LEG_CPU=""
LEG_S3S_FROM=0
CLK_TCK=$(getconf CLK_TCK)

# s3s-fs's requests since LEG_S3S_FROM, as "op=count:seconds,..." (every op the leg made)
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
print(",".join(f"{name}={len(t)}:{sum(t):.3f}" for name, t in sorted(by.items())) or "-")
PY
s3s_ops() { python3 "$WORK/s3s_ops.py" "$LOGS/s3s-fs.log" "$LEG_S3S_FROM"; }

record() { # LEG RUN
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$LEG_SECS" "$LEG_RSS" "$LEG_CPU" "$(s3s_ops)" >>"$RESULTS"
    say "  $1: $(mib "$BYTES") MiB in ${LEG_SECS}s, peak RSS $((LEG_RSS / 1024)) MiB"
}

export CHATVAULT_BENCH_ACCESS_KEY="$AK" CHATVAULT_BENCH_SECRET_KEY="$SK"

write_chatvault_config() { # DIR PREFIX CAPTURE UNSIGNED
    local dir=$1 prefix=$2 capture=$3 unsigned=$4 cid
    mkdir -p "$dir/jobs"
    cat >"$dir/chatvault.yaml" <<YAML
# Written by benches/media.sh for one run.
api:
  key: \${STREAM_API_KEY}
  secret: \${STREAM_API_SECRET}
  base_url: $EMU
state:
  url: file://state
YAML
    {
        cat <<YAML
# Written by benches/media.sh: one due tick, one fixed window over the whole history, the data
# set's channels (one batch). The CDN is the emulator's, on localhost.
name: $JOB
schedule: "@daily"
window:
  mode: fixed
  since: $SINCE
  until: $UNTIL
channels:
YAML
        for cid in $CIDS; do echo "  - cid: $cid"; done
        cat <<YAML
export:
  version: v2
destination:
  url: s3://$BUCKET/$prefix
  compression: none
  options:
    aws_endpoint: $S3
    aws_region: $REGION
    aws_allow_http: "true"
    aws_virtual_hosted_style_request: "false"
    aws_access_key_id: \${CHATVAULT_BENCH_ACCESS_KEY}
    aws_secret_access_key: \${CHATVAULT_BENCH_SECRET_KEY}
    aws_unsigned_payload: "$unsigned"
media:
  capture: $capture
  hosts: ["localhost"]
  allow_http: true
  allow_private_addresses: true
  concurrency: $CONCURRENCY
YAML
    } >"$dir/jobs/$JOB.yaml"
}

# The objects under PREFIX are the distinct files, each once at its content key with the
# ground truth's size; with RECORD, the media record lists every reference as stored or
# already stored with the truth's SHA-256 and size.
check_stored() { # PREFIX LEG [HASHES]
    python3 - "$DATA/$BUCKET/$1" "$WORK/truth.json" "$2" "${3:-}" <<'PY'
import glob, json, os, sys
root, truth, leg, hash_file = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
by_path = {r["path"]: r for r in truth}
def fail(msg):
    sys.exit(f"{leg}: {msg}")
if leg.startswith("chatvault"):
    records = glob.glob(os.path.join(root, "**", "*.media.*.json"), recursive=True)
    if len(records) != 1:
        fail(f"{len(records)} media records under the prefix, want 1")
    refs = json.load(open(records[0]))["references"]
    by_url = {r["url"]: r for r in truth}
    if len(refs) != len(truth):
        fail(f"the record lists {len(refs)} references, the data set has {len(truth)}")
    statuses = {}
    for ref in refs:
        out = {k: ref.get(k) for k in ("status", "sha256", "size", "reason")}
        status = out["status"]
        statuses[status] = statuses.get(status, 0) + 1
        want = by_url.get(ref["url"])
        if want is None:
            fail(f"the record lists {ref['url']}, which the data set does not")
        if status not in ("stored", "already_stored") or out.get("sha256") != want["sha256"] or out.get("size") != want["size"]:
            fail(f"{ref['url']}: recorded {out}, want stored with {want['sha256']} ({want['size']} bytes)")
    media = os.path.join(root, "_media", "sha256")
    found = {}
    for dirpath, _, names in os.walk(media):
        for name in names:
            found[name] = os.path.getsize(os.path.join(dirpath, name))
    want = {r["sha256"]: r["size"] for r in truth}
    if found != want:
        fail(f"{len(found)} objects under _media/sha256, want {len(want)} (sizes and names checked)")
    print(" ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
else:
    hashes = {}
    for line in open(hash_file):
        path, sha = line.split()
        hashes[path] = sha
    want = {r["path"]: (r["size"], r["sha256"]) for r in truth}
    for path, (size, sha) in want.items():
        got = os.path.join(root, path)
        if not os.path.exists(got) or os.path.getsize(got) != size:
            fail(f"{path}: stored {os.path.getsize(got) if os.path.exists(got) else 'nothing'}, want {size} bytes")
        if hashes.get(path) != sha:
            fail(f"{path}: hashed on the way as {hashes.get(path)}, want {sha}")
    print(f"objects={len(want)}")
PY
}

chatvault_leg() { # LEG RUN UNSIGNED
    local leg=$1 run=$2 unsigned=$3 dir="$WORK/$1-$2" prefix="$1-$2" summary
    # The archive alone, media.capture: false (not timed).
    write_chatvault_config "$dir" "$prefix" false "$unsigned"
    (cd "$dir" && env STREAM_API_KEY="$STREAM_KEY" STREAM_API_SECRET="$STREAM_SECRET" CHATVAULT_LOG=info \
        timeout "$LEG_TIMEOUT" "$CV_BIN" --log-format json run --once jobs) >"$LOGS/chatvault-archive.log" 2>&1 \
        || die "chatvault run --once (the archive, media.capture: false)"
    # The media pass: the same job with media.capture: true.
    write_chatvault_config "$dir" "$prefix" true "$unsigned"
    timed "$leg" env -C "$dir" STREAM_API_KEY="$STREAM_KEY" STREAM_API_SECRET="$STREAM_SECRET" \
        CHATVAULT_LOG=info "$CV_BIN" --log-format json media --job "$JOB" --max-files "$((N_REFS * 2))" jobs
    summary=$(check_stored "$prefix" chatvault) || die "chatvault's media (above)"
    say "  ($leg's record: $summary)"
    record "$leg" "$run"
    rm -rf "${DATA:?}/$BUCKET/$prefix"
}

# One file of the pipeline: GET | tee <fifo> | PUT, sha256sum reading the fifo. Runs under
# xargs, in a shell of its own. The PUT goes to a presigned URL (its query signs the host alone):
# curl cannot sign a streamed body's Content-Length with --aws-sigv4, and without one it sends
# the body chunked, which S3 refuses.
cat >"$WORK/one.sh" <<'SH'
#!/usr/bin/env bash
# GET_URL SIZE PATH PUT_URL: the hash goes to $HASHES/<path with _ for />, "PATH SHA256"
set -uo pipefail
get=$1 size=$2 path=$3 put=$4
name=$(printf '%s' "$path" | tr '/' '_')
fifo="$HASHES/$name.fifo"
mkfifo "$fifo"
{ read -r sha _ < <(sha256sum <"$fifo"); printf '%s %s\n' "$path" "$sha" >"$HASHES/$name"; } &
hashing=$!
curl -sS --fail --max-time "$LEG_TIMEOUT" "$get" | tee "$fifo" \
    | curl -sS --fail --max-time "$LEG_TIMEOUT" -H "Content-Length: $size" -H "Transfer-Encoding:" \
        -H "Expect:" -T - -o /dev/null "$put"
rc=$?
wait "$hashing" || rc=1
rm -f "$fifo"
exit $rc
SH
chmod +x "$WORK/one.sh"

# Fresh signed links of the same files: an export of the same channels and window, as a user's
# tool would read them, and a presigned PUT URL for each. links.tsv: URL SIZE PATH PUT_URL, one
# line per distinct path.
fresh_links() { # OUT PREFIX
    local channels task status url _
    channels=$(python3 -c 'import json, sys; print(json.dumps([{"type": c.split(":")[0], "id": c.split(":")[1],
        "messages_since": sys.argv[1], "messages_until": sys.argv[2]} for c in sys.argv[3:]]))' "$SINCE" "$UNTIL" $CIDS)
    task=$(api POST /export_channels "{\"channels\":$channels,\"version\":\"v2\"}" | json_field 'd["task_id"]')
    for _ in $(seq 300); do
        status=$(api GET "/export_channels/$task" | json_field 'd["status"]')
        [[ "$status" == completed ]] && break
        sleep 0.1
    done
    [[ "$status" == completed ]] || die "the script's export task is $status after 30 s"
    url=$(api GET "/export_channels/$task" | json_field 'd["result"]["url"]')
    curl -sS --fail --max-time 300 -o "$WORK/export.json" "$url" || die "downloading the script's export"
    python3 - "$WORK/export.json" "$WORK/truth.tsv" "$1" "$S3" "$REGION" "$AK" "$SK" "$BUCKET" "$2" \
        <<'PY' || die "reading the links from the export"
import datetime, hashlib, hmac, json, sys
from urllib.parse import quote, urlsplit
export, truth, out, endpoint, region, ak, sk, bucket, prefix = sys.argv[1:]
sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in open(truth)}
links = {}
def walk(v):
    if isinstance(v, dict):
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str) and "/cdn/" in v and "Signature=" in v:
        path = urlsplit(v).path.split("/cdn/", 1)[1]
        links.setdefault(path, v)
text = open(export, encoding="utf-8").read()
try:
    walk(json.loads(text))
except ValueError:
    for line in text.splitlines():
        if line.strip():
            walk(json.loads(line))
if set(links) != set(sizes):
    sys.exit(f"the export links to {len(links)} distinct files, the data set has {len(sizes)}")
# SigV4 query-string signing of a PUT: only the host is signed, the payload is UNSIGNED-PAYLOAD.
host = endpoint.split("://", 1)[1]
now = datetime.datetime.now(datetime.timezone.utc)
amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/{region}/s3/aws4_request"
key = b"AWS4" + sk.encode()
for part in (day, region, "s3", "aws4_request"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
def presigned_put(path):
    uri = "/" + quote(f"{bucket}/{prefix}/{path}", safe="/~")
    query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{ak}/{scope}", "X-Amz-Date": amz,
        "X-Amz-Expires": "86400", "X-Amz-SignedHeaders": "host"}.items()))
    canonical = f"PUT\n{uri}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    to_sign = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return f"{endpoint}{uri}?{query}&X-Amz-Signature={hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()}"
with open(out, "w") as f:
    for path, url in sorted(links.items()):
        f.write(f"{url}\t{sizes[path]}\t{path}\t{presigned_put(path)}\n")
PY
}

anchor_leg() { # RUN
    local run=$1 prefix="anchor-$1" summary
    fresh_links "$WORK/links.tsv" "$prefix"
    rm -rf "$WORK/hashes"
    mkdir -p "$WORK/hashes"
    export HASHES="$WORK/hashes" LEG_TIMEOUT
    timed anchor sh -c 'tr "\t" " " <"$0" | xargs -P "$1" -L 1 "$2"' \
        "$WORK/links.tsv" "$CONCURRENCY" "$WORK/one.sh"
    cat "$WORK"/hashes/* >"$WORK/anchor-hashes.tsv"
    summary=$(check_stored "$prefix" anchor "$WORK/anchor-hashes.tsv") || die "the pipeline's objects (above)"
    record anchor "$run"
    rm -rf "${DATA:?}/$BUCKET/$prefix" "$WORK/anchor-hashes.tsv"
}

for run in $(seq "$RUNS"); do
    say "run $run of $RUNS:"
    chatvault_leg chatvault "$run" false
    anchor_leg "$run"
    if [[ "$UNSIGNED_LEG" == 1 ]]; then
        chatvault_leg chatvault-unsigned "$run" true
    fi
done

# ---------------------------------------------------------------------------------------------
# report

COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] || COMMIT="$COMMIT (+ uncommitted changes)"
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

rc=0
python3 - "$RESULTS" "$STRICT" "$BYTES" "$WORK/truth.tsv" <<EOF_PY || rc=$?
import sys
from collections import defaultdict

results, strict, nbytes, truth = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4]
sizes = sorted(int(line.split("\t")[1]) for line in open(truth))
runs = defaultdict(list)
for line in open(results):
    leg, run, secs, rss, cpu, cpu_emu, cpu_s3s, ops = line.rstrip("\n").split("\t")
    parsed = {}
    if ops != "-":
        for item in ops.split(","):
            name, v = item.split("=")
            n, t = v.split(":")
            parsed[name] = (int(n), float(t))
    runs[leg].append({"secs": float(secs), "rss": int(rss) / 1024, "cpu": (float(cpu), float(cpu_emu), float(cpu_s3s)),
                      "ops": parsed})

def fig(leg):
    r = sorted(runs[leg], key=lambda x: x["secs"])
    mid = r[len(r) // 2]  # the median run (by seconds)
    return dict(mid, mibs=nbytes / 1048576 / mid["secs"], peak=max(x["rss"] for x in r))

print()
print("media benchmark: emulator CDN (127.0.0.1) -> s3s-fs $S3S_FS_VERSION (127.0.0.1, SigV4 checked, data on tmpfs)")
print("machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -r), load $LOAD at the end; commit $COMMIT; "
      "$(rustc --version 2>/dev/null || echo rustc ?)")
print(f"data: $N_REFS references to $N_FILES distinct files, {nbytes / 1048576:.1f} MiB in all "
      f"(sizes $MIN_SIZE..$MAX_SIZE: median {sizes[len(sizes) // 2] / 1048576:.2f} MiB, "
      f"{sum(1 for s in sizes if s > 8 << 20)} files over 8 MiB)")
print("chatvault leg = \`chatvault media --job $JOB\` (release binary) over an archive written with")
print("  media.capture: false; media.concurrency $CONCURRENCY; fetch, hash, spool, HEAD, store, record")
print("anchor leg = xargs -P $CONCURRENCY: curl GET | tee >(sha256sum) | curl PUT to a presigned URL (length given)")
print(f"runs per leg: $RUNS (median seconds, max RSS); MiB/s = the distinct files' bytes / wall seconds")
print()
print(f"{'leg':<20} {'seconds':>8} {'MiB/s':>7} {'peak RSS MiB':>13}   {'CPU s: leg':>10} {'emulator':>8} {'s3s-fs':>6} {'cores busy':>10}")
LEGS = [leg for leg in ("chatvault", "anchor", "chatvault-unsigned") if leg in runs]
for leg in LEGS:
    f = fig(leg)
    c = f["cpu"]
    print(f"{leg:<20} {f['secs']:>8.2f} {f['mibs']:>7.1f} {f['peak']:>13.1f}   {c[0]:>10.2f} {c[1]:>8.2f} {c[2]:>6.2f} "
          f"{sum(c) / f['secs']:>10.2f}")
print(f"(the anchor's RSS is its largest single process; cores busy = CPU seconds of the leg, the emulator")
print(f" and s3s-fs over wall seconds; this machine has $(nproc))")
print()
print("s3s-fs's requests in the median run (count, seconds summed over requests at the server):")
for leg in LEGS:
    ops = fig(leg)["ops"]
    print(f"  {leg:<18} " + ", ".join(f"{name} {n} ({t:.2f} s)" for name, (n, t) in sorted(ops.items())))
for leg in LEGS:
    if len(runs[leg]) > 1:
        print(f"  {leg} runs: " + ", ".join(f"{r['secs']:.1f} s" for r in runs[leg]))
print()

ok = True
def target(name, value, want, met):
    global ok
    ok &= met
    print(f"{name:<60} {value:>9}   target {want:<10} {'met' if met else 'MISSED'}")
cv, anchor = fig("chatvault"), fig("anchor")
target(f"chatvault / pipeline throughput ({cv['mibs']:.0f} vs {anchor['mibs']:.0f} MiB/s)",
       f"{cv['mibs'] / anchor['mibs']:.2f}x", ">= 0.8x", cv["mibs"] >= 0.8 * anchor["mibs"])
target("chatvault peak RSS", f"{cv['peak']:.1f} MiB", "<= 96 MiB", cv["peak"] <= 96)
if "chatvault-unsigned" in runs:
    u = fig("chatvault-unsigned")
    print(f"{'chatvault-unsigned / pipeline throughput (extra, info)':<60} {u['mibs'] / anchor['mibs']:>8.2f}x   "
          f"peak RSS {u['peak']:.1f} MiB")
print()
print("all targets met" if ok else "some targets MISSED")
sys.exit(3 if strict and not ok else 0)
EOF_PY
exit "$rc"

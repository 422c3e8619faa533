#!/usr/bin/env bash
# Benchmark: chatvault at scale, in one run, in two parts.
#
#   (A) The daemon holding 10,000 jobs. Generated job files (benches/gen_jobs.py --quiet-at:
#       valid, varied, `catch_up: none`, no tick within 2 hours of now, so nothing runs), state
#       in a local folder, the emulator as API. Measured for `chatvault run --listen
#       127.0.0.1:0 jobs/`: time from spawn to /readyz 200 (and the CPU seconds that took), how
#       long after that its start-up pass over every job keeps it busy, VmRSS and VmHWM once
#       ready, CPU while idle between ticks over 60 s (utime+stime as % of one core; a busy
#       loop shows here, and fails the run), context switches per second, the /metrics scrape
#       (bytes, series, time) and how fast SIGTERM ends it (exit 0). The same is measured for
#       a reference daemon holding the first 100 of the same jobs, started alone before it;
#       the two idle side by side. The machine is shared, so each figure is also given as a
#       ratio to the reference.
#   (B) One `chatvault run --once` of a job listing 2,000 channels against the emulator's real
#       rate limits (real clock, per-minute and per-second burst limits enforced; tasks finish
#       2 s after creation). Counted from the emulator's request log: export creates (must be
#       exactly ceil(2000/25) = 80), 429 answers (must be 0), every other request by endpoint,
#       the busiest minute and second of creates; and the total time, also as a ratio to the
#       floor the create limit sets (80 creates at 60/min: 79 s between the first and the last).
#
#   benches/scale.sh            # from any directory; ~3 minutes on 2 cores once built
#
# This is not a test: it prints figures. It exits non-zero only when something is broken: a
# build, the emulator, a daemon that does not get ready, exits non-zero or late on SIGTERM, an
# idle daemon burning CPU (a busy loop), a run --once that fails, creates != ceil(N/25), or any
# 429.
#
# Needs: cargo, python3 (3.9+), curl.
#
# Knobs (environment):
#   BENCH_JOBS=10000        jobs of the large daemon
#   BENCH_REF_JOBS=100      jobs of the reference daemon (the first of the same generated set)
#   BENCH_SEED=42           generator seed
#   BENCH_IDLE_SECS=60      idle window over which CPU is measured
#   BENCH_IDLE_MAX_PCT=2    idle CPU (% of one core) above which the daemon counts as busy-looping
#   BENCH_SCRAPES=5         /metrics scrapes per daemon (median time reported)
#   BENCH_CHANNELS=2000     channels of the run --once job
#   BENCH_PARTS=ab          a: only the daemon part, b: only the channels part
#   BENCH_READY_TIMEOUT=600 seconds a daemon may take to get ready
#   BENCH_RUN_TIMEOUT=1800  seconds the run --once may take
#   BENCH_KEEP=0            1: keep the work dir (logs, job files, state, archives)
#   CARGO_TARGET_DIR        honoured by the build. Do not share it with another worktree of this
#                           repository: cargo names both worktrees' artifacts alike, so a build
#                           here can find the other's binary "fresh" and run it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${BENCH_JOBS:-10000}"
REF_JOBS="${BENCH_REF_JOBS:-100}"
SEED="${BENCH_SEED:-42}"
IDLE_SECS="${BENCH_IDLE_SECS:-60}"
IDLE_MAX_PCT="${BENCH_IDLE_MAX_PCT:-2}"
SCRAPES="${BENCH_SCRAPES:-5}"
CHANNELS="${BENCH_CHANNELS:-2000}"
PARTS="${BENCH_PARTS:-ab}"
READY_TIMEOUT="${BENCH_READY_TIMEOUT:-600}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-1800}"
API_KEY=emulator-key
API_SECRET=emulator-secret

# Everything is on 127.0.0.1.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf 'scale-bench: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
# artifact (the binaries cargo built)
. "$REPO/benches/common.sh"

[[ "$JOBS" =~ ^[1-9][0-9]*$ && "$REF_JOBS" =~ ^[1-9][0-9]*$ && "$CHANNELS" =~ ^[1-9][0-9]*$ ]] \
    || die "BENCH_JOBS, BENCH_REF_JOBS and BENCH_CHANNELS must be positive integers"
(( REF_JOBS < JOBS )) || die "BENCH_REF_JOBS ($REF_JOBS) must be below BENCH_JOBS ($JOBS)"
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"
command -v cargo >/dev/null || die "cargo not found"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' || die "python3 >= 3.9 needed (zoneinfo)"

# ---------------------------------------------------------------------------------------------
# work dir and cleanup (processes we started, by PID)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatvault-scale-bench.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
PIDS_FILE="$WORK/pids" # daemons the part-A helper started, one PID a line
: >"$PIDS_FILE"
EMU_PIDS=()

# shellcheck disable=SC2317 # stop_pid and cleanup run from the EXIT trap
stop_pid() { # PID: TERM, up to 5 s, then KILL
    local pid=$1 _
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
    local rc=$? pid f
    trap - EXIT INT TERM
    if [[ $rc != 0 ]]; then
        for f in "$LOGS"/*.log; do
            [[ -s "$f" ]] || continue
            say "--- tail of ${f##*/}:"
            tail -n 15 "$f" >&2 || true
        done
    fi
    while read -r pid; do stop_pid "$pid"; done <"$PIDS_FILE"
    for pid in "${EMU_PIDS[@]}"; do stop_pid "$pid"; done
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# build: chatvault and the emulator, release, in one cargo call

# The commit the binaries are built from (read now: others may commit during the run).
COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -z "$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] \
    || COMMIT="$COMMIT (+ uncommitted changes)"
say "building release binaries (chatvault, chatvault-emulator)"
build_release
# Copies, so a build elsewhere sharing CARGO_TARGET_DIR (another worktree) cannot swap them
# mid-run.
mkdir -p "$WORK/bin"
cp "$(artifact chatvault)" "$(artifact chatvault-emulator)" "$WORK/bin/"
BIN="$WORK/bin/chatvault"
EMU_BIN="$WORK/bin/chatvault-emulator"

# ---------------------------------------------------------------------------------------------
# the emulator

EMU_URL=""
start_emulator() { # LOGNAME ARGS...: starts one, sets EMU_URL
    local log="$LOGS/$1.log" deadline
    shift
    "$EMU_BIN" --port 0 "$@" </dev/null >"$log" 2>&1 &
    EMU_PIDS+=($!)
    deadline=$((SECONDS + 30))
    EMU_URL=""
    until [[ -n "$EMU_URL" ]]; do
        kill -0 "${EMU_PIDS[-1]}" 2>/dev/null || die "the emulator exited (log above)"
        (( SECONDS < deadline )) || die "the emulator printed no address in 30 s"
        EMU_URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n 1)
        [[ -n "$EMU_URL" ]] || sleep 0.1
    done
    say "emulator ($*) at $EMU_URL"
}

write_config() { # DIR: chatvault.yaml with the emulator as API and state in DIR/state
    cat >"$1/chatvault.yaml" <<EOF
api:
  base_url: $EMU_URL
state:
  url: file://$1/state
EOF
}

export STREAM_API_KEY="$API_KEY" STREAM_API_SECRET="$API_SECRET"
CLK_TCK=$(getconf CLK_TCK)
STATUS=0
FIGURES_A="$WORK/figures-a.txt"
FIGURES_B="$WORK/figures-b.txt"
: >"$FIGURES_A"
: >"$FIGURES_B"

# ---------------------------------------------------------------------------------------------
# (A) the daemon holding BENCH_JOBS jobs, against a reference holding BENCH_REF_JOBS

part_a() {
    start_emulator emulator-a
    local quiet_at
    quiet_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local dir n
    for dir in ref big; do
        n=$REF_JOBS
        [[ $dir == big ]] && n=$JOBS
        mkdir -p "$WORK/$dir"
        write_config "$WORK/$dir"
        say "generating $n job files (seed $SEED, quiet at $quiet_at) in $WORK/$dir/jobs"
        python3 "$REPO/benches/gen_jobs.py" --count "$n" --seed "$SEED" --quiet-at "$quiet_at" \
            --out "$WORK/$dir/jobs" >/dev/null
    done
    # Same generator, same seed: the reference's files are the large set's first ones.
    local f
    while read -r f; do
        cmp -s "$WORK/ref/jobs/$f" "$WORK/big/jobs/$f" || die "reference job $f differs from the large set's"
    done < <(cd "$WORK/ref/jobs" && find . -type f)

    cat >"$WORK/part_a.py" <<'EOF'
"""Starts the reference and the large daemon one after the other, measures each, lets both
idle side by side, scrapes them, stops them. Prints progress to stderr, the figures to the
file named by argv, exits 1 when something is broken."""
import json, os, re, signal, statistics, subprocess, sys, time, urllib.error, urllib.request

(bin_, work, pids_file, figures, clk_tck, idle_secs, idle_max_pct, scrapes, ready_timeout,
 n_ref, n_big) = sys.argv[1:]
clk_tck, idle_secs, idle_max_pct = int(clk_tck), float(idle_secs), float(idle_max_pct)
scrapes, ready_timeout, n_ref, n_big = int(scrapes), float(ready_timeout), int(n_ref), int(n_big)
broken = []


def say(msg):
    print(f"scale-bench: {msg}", file=sys.stderr, flush=True)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ctx_switches(pid):
    """Context switches so far, per thread (threads come and go: tokio's blocking pool)."""
    n = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            s = status(f"{pid}/task/{tid}")
        except FileNotFoundError:
            continue
        n[tid] = int(s.get("voluntary_ctxt_switches", 0)) + int(s.get("nonvoluntary_ctxt_switches", 0))
    return n


def ctx_delta(before, after):
    """Switches between two readings, over the threads alive at both."""
    return sum(after[t] - before[t] for t in before.keys() & after.keys())


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


class Daemon:
    def __init__(self, name, n):
        self.name, self.n, self.dir = name, n, os.path.join(work, name)
        self.log_path = os.path.join(work, "logs", f"daemon-{name}.log")
        self.f = {}

    def start(self):
        log = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([bin_, "run", "--listen", "127.0.0.1:0", "jobs"],
                                     cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        with open(pids_file, "a") as p:
            p.write(f"{self.proc.pid}\n")
        self.pid = self.proc.pid
        addr = None
        while addr is None:
            self.check_alive()
            if time.monotonic() - t0 > ready_timeout:
                raise SystemExit(f"{self.name}: no listen address after {ready_timeout:.0f} s")
            m = re.search(r"serving /metrics\S* .*address=(\S+)", open(self.log_path).read())
            if m:
                addr = m.group(1)
            else:
                time.sleep(0.005)
        t_listen = time.monotonic() - t0
        self.base = f"http://{addr}"
        while True:
            self.check_alive()
            code, _ = get(self.base + "/readyz", timeout=5)
            if code == 200:
                break
            if time.monotonic() - t0 > ready_timeout:
                raise SystemExit(f"{self.name}: /readyz not 200 after {ready_timeout:.0f} s")
            time.sleep(0.01)
        self.f["listen_s"] = t_listen
        self.f["ready_s"] = time.monotonic() - t0
        self.f["ready_cpu_s"] = cpu_ticks(self.pid) / clk_tck
        st = status(self.pid)
        self.f["rss_ready_kib"] = int(st["VmRSS"].split()[0])
        self.f["hwm_ready_kib"] = int(st["VmHWM"].split()[0])
        say(f"{self.name}: {self.n} jobs, listening after {t_listen:.3f} s, ready after "
            f"{self.f['ready_s']:.3f} s, RSS {self.f['rss_ready_kib'] / 1024:.1f} MiB")

    def settle(self, window=2.0, max_ticks=2, timeout=300.0):
        """How long after ready the start-up pass over every job keeps the process busy: until
        a `window` of seconds passes with at most `max_ticks` clock ticks of CPU."""
        t0 = time.monotonic()
        samples = [(t0, cpu_ticks(self.pid))]
        while True:
            time.sleep(0.25)
            self.check_alive()
            now, ticks = time.monotonic(), cpu_ticks(self.pid)
            samples.append((now, ticks))
            old = [s for s in samples if s[0] <= now - window]
            if old and ticks - old[-1][1] <= max_ticks:
                self.f["settle_s"] = max(0.0, old[-1][0] - t0)
                break
            if now - t0 > timeout:
                self.f["settle_s"] = None
                broken.append(f"{self.name}: still busy {timeout:.0f} s after ready")
                break
        self.f["settle_cpu_s"] = cpu_ticks(self.pid) / clk_tck
        st = status(self.pid)
        self.f["rss_settled_kib"] = int(st["VmRSS"].split()[0])
        self.f["hwm_settled_kib"] = int(st["VmHWM"].split()[0])
        self.f["threads"] = int(st["Threads"])

    def idle_begin(self):
        self.idle0 = (time.monotonic(), cpu_ticks(self.pid), ctx_switches(self.pid))

    def idle_end(self):
        t1, c1, x1 = time.monotonic(), cpu_ticks(self.pid), ctx_switches(self.pid)
        t0, c0, x0 = self.idle0
        self.f["idle_s"] = t1 - t0
        self.f["idle_cpu_s"] = (c1 - c0) / clk_tck
        self.f["idle_pct"] = 100.0 * (c1 - c0) / clk_tck / (t1 - t0)
        self.f["idle_ctx_per_s"] = ctx_delta(x0, x1) / (t1 - t0)
        st = status(self.pid)
        self.f["rss_idle_kib"] = int(st["VmRSS"].split()[0])
        self.f["hwm_idle_kib"] = int(st["VmHWM"].split()[0])
        if self.f["idle_pct"] > idle_max_pct:
            broken.append(f"{self.name}: {self.f['idle_pct']:.2f}% of a core while idle "
                          f"(> {idle_max_pct}%): a busy loop")

    def scrape(self):
        times, size, body = [], 0, b""
        for _ in range(scrapes):
            t0 = time.perf_counter()
            code, body = get(self.base + "/metrics", timeout=60)
            times.append(time.perf_counter() - t0)
            if code != 200:
                broken.append(f"{self.name}: /metrics answered {code}")
                return
            size = len(body)
        text = body.decode()
        samples = [l for l in text.splitlines() if l and not l.startswith("#")]
        per_job = [l for l in samples if l.startswith("chatvault_last_run_failed{")]
        self.f["scrape_bytes"] = size
        self.f["scrape_samples"] = len(samples)
        self.f["scrape_s"] = statistics.median(times)
        m = re.search(r"^chatvault_jobs (\d+)", text, re.M)
        if not m or int(m.group(1)) != self.n or len(per_job) != self.n:
            broken.append(f"{self.name}: /metrics has chatvault_jobs {m and m.group(1)} and "
                          f"{len(per_job)} jobs' series, want {self.n}")
        code, _ = get(self.base + "/healthz")
        if code != 200:
            broken.append(f"{self.name}: /healthz answered {code}")

    def stop(self):
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broken.append(f"{self.name}: still running 30 s after SIGTERM")
            self.proc.kill()
            rc = self.proc.wait()
        self.f["stop_s"] = time.monotonic() - t0
        self.f["stop_rc"] = rc
        if rc != 0:
            broken.append(f"{self.name}: exit {rc} after SIGTERM, want 0")
        elif self.f["stop_s"] > 5:
            broken.append(f"{self.name}: took {self.f['stop_s']:.1f} s to exit after SIGTERM (idle, want < 5 s)")

    def check_alive(self):
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name}: exited with {self.proc.returncode} (see {self.log_path})")


ref, big = Daemon("ref", n_ref), Daemon("big", n_big)
try:
    for d in (ref, big):
        d.start()
        d.settle()
        if d.f["settle_s"] is not None:
            say(f"{d.name}: start-up pass over {d.f['settle_s']:.2f} s after ready")
    say(f"both idle for {idle_secs:.0f} s")
    for d in (ref, big):
        d.idle_begin()
    time.sleep(idle_secs)
    for d in (ref, big):
        d.idle_end()
    for d in (ref, big):
        d.scrape()
    for d in (ref, big):
        d.stop()
except SystemExit as e:
    broken.append(str(e))
finally:
    for d in (ref, big):
        if getattr(d, "proc", None) and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()

r, b = ref.f, big.f


def val(d, key, fmt):
    v = d.get(key)
    return "n/a" if v is None else fmt.format(v)


def ratio(key, scale=1.0):
    x, y = b.get(key), r.get(key)
    if x is None or y is None:
        return "n/a"
    if y == 0:
        return "n/a (ref 0)"
    return f"{x / y:.2f}x"


rows = [
    ("spawn -> listening (job files loaded)", "listen_s", "{:.3f} s"),
    ("spawn -> /readyz 200", "ready_s", "{:.3f} s"),
    ("CPU used until ready", "ready_cpu_s", "{:.2f} s"),
    ("start-up pass after ready", "settle_s", "{:.2f} s"),
    ("CPU used until settled", "settle_cpu_s", "{:.2f} s"),
    ("VmRSS at ready", "rss_ready_kib", None),
    ("VmHWM at ready", "hwm_ready_kib", None),
    ("VmRSS after the idle window", "rss_idle_kib", None),
    ("VmHWM after the idle window", "hwm_idle_kib", None),
    ("threads when settled", "threads", "{:d}"),
    ("idle CPU (% of one core)", "idle_pct", "{:.3f} %"),
    ("idle CPU seconds in the window", "idle_cpu_s", "{:.2f} s"),
    ("idle context switches / s (all threads)", "idle_ctx_per_s", "{:.2f}"),
    ("/metrics size", "scrape_bytes", "{:,d} B"),
    ("/metrics samples", "scrape_samples", "{:,d}"),
    ("/metrics scrape time (median)", "scrape_s", "{:.4f} s"),
    ("SIGTERM -> exit", "stop_s", "{:.3f} s"),
    ("exit code", "stop_rc", "{:d}"),
]
out = []
out.append(f"(A) daemon: {n_big:,} jobs vs reference {n_ref:,} jobs (same generator and seed; "
           f"none due; state in a local folder)")
out.append(f"  {'figure':<40} {'reference':>14} {'large':>14} {'large/ref':>12}")
for label, key, fmt in rows:
    if fmt is None:
        rv = "n/a" if r.get(key) is None else f"{r[key] / 1024:.1f} MiB"
        bv = "n/a" if b.get(key) is None else f"{b[key] / 1024:.1f} MiB"
    else:
        rv, bv = val(r, key, fmt), val(b, key, fmt)
    rt = "" if key in ("stop_rc", "threads") else ratio(key)
    out.append(f"  {label:<40} {rv:>14} {bv:>14} {rt:>12}")
if b.get("rss_idle_kib") and r.get("rss_idle_kib"):
    per_job = (b["rss_idle_kib"] - r["rss_idle_kib"]) / (n_big - n_ref)
    out.append(f"  RSS per extra job (idle, (large - ref) / {n_big - n_ref:,} jobs): {per_job:.1f} KiB")
if b.get("ready_s") and r.get("ready_s"):
    out.append(f"  start-up per extra job: {(b['ready_s'] - r['ready_s']) / (n_big - n_ref) * 1e6:.0f} us to ready, "
               f"{(b.get('ready_cpu_s', 0) - r.get('ready_cpu_s', 0)) / (n_big - n_ref) * 1e6:.0f} us of CPU")
if b.get("idle_pct") is not None:
    verdict = "no busy loop" if b["idle_pct"] <= idle_max_pct and r["idle_pct"] <= idle_max_pct else "BUSY LOOP"
    out.append(f"  idle over {b['idle_s']:.1f} s: {verdict} (threshold {idle_max_pct}% of a core)")
for problem in broken:
    out.append(f"  BROKEN: {problem}")
with open(figures, "w") as f:
    f.write("\n".join(out) + "\n")
sys.exit(1 if broken else 0)
EOF
    local rc=0
    python3 "$WORK/part_a.py" "$BIN" "$WORK" "$PIDS_FILE" "$FIGURES_A" "$CLK_TCK" "$IDLE_SECS" \
        "$IDLE_MAX_PCT" "$SCRAPES" "$READY_TIMEOUT" "$REF_JOBS" "$JOBS" || rc=$?
    [[ -s "$FIGURES_A" ]] || die "part A printed no figures"
    (( rc == 0 )) || STATUS=1
}

# ---------------------------------------------------------------------------------------------
# (B) one run --once of BENCH_CHANNELS channels against the real rate limits

part_b() {
    local per_type=$(((CHANNELS + 2) / 3))
    start_emulator emulator-b --clock real --channels-per-type "$per_type" --soft-deleted-per-type 0 \
        --waiting-secs 0 --pending-secs 0 --running-secs 2 --burst-limits
    local dir="$WORK/channels"
    mkdir -p "$dir/jobs"
    write_config "$dir"
    # The emulator names channels <prefix>-NNN per type; take the first CHANNELS, type by type,
    # and check each exists and is live.
    curl -sS --fail --max-time 30 "$EMU_URL/_emulator/channels" >"$WORK/channels.json" \
        || die "GET /_emulator/channels"
    python3 - "$WORK/channels.json" "$CHANNELS" "$dir/jobs/scale-channels.yaml" <<'EOF' || die "writing the job"
import json, sys
channels, n, out = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
live = [c for c in channels if not c["deleted_at"]]
if len(live) < n:
    sys.exit(f"the emulator has {len(live)} live channels, want {n}")
by_type = {}
for c in live[:n]:
    by_type.setdefault(c["type"], []).append(c["id"])
lines = [
    "# A run --once of many channels against the emulator's real rate limits (benches/scale.sh).",
    "name: scale-channels",
    'schedule: "@hourly"',
    "channels:",
]
for t, ids in by_type.items():
    lines.append(f"  - type: {t}")
    lines.append("    ids: [" + ", ".join(ids) + "]")
lines += ["destination:", "  url: file://archive", "  compression: gzip"]
open(out, "w").write("\n".join(lines) + "\n")
EOF
    (cd "$dir" && "$BIN" validate jobs) >"$LOGS/validate-b.log" 2>&1 || die "the generated job is invalid"
    curl -sS --fail --max-time 10 -X DELETE "$EMU_URL/_emulator/requests" >/dev/null

    say "run --once: $CHANNELS channels, $(((CHANNELS + 24) / 25)) batches, against $EMU_URL"
    local t0 t1 rc=0 rss_kib=""
    t0=$(date +%s%N)
    if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
        (cd "$dir" && timeout "$RUN_TIMEOUT" /usr/bin/time -f '%M' -o "$WORK/run-rss.txt" \
            "$BIN" run --once jobs) >"$LOGS/run-once.out" 2>"$LOGS/run-once.log" || rc=$?
        rss_kib=$(tail -n 1 "$WORK/run-rss.txt" 2>/dev/null || true)
    else
        (cd "$dir" && timeout "$RUN_TIMEOUT" "$BIN" run --once jobs) \
            >"$LOGS/run-once.out" 2>"$LOGS/run-once.log" || rc=$?
    fi
    t1=$(date +%s%N)
    say "run --once: exit $rc after $(((t1 - t0) / 1000000)) ms: $(head -n 1 "$LOGS/run-once.out")"
    curl -sS --fail --max-time 60 "$EMU_URL/_emulator/requests" >"$WORK/requests.json" \
        || die "GET /_emulator/requests"
    local archives
    archives=$(find "$dir/archive" -type f ! -name '*.manifest.json' ! -name '*.media.*.json' ! -path '*/_media/*' 2>/dev/null | wc -l | tr -d ' ')

    python3 - "$WORK/requests.json" "$CHANNELS" "$rc" "$t0" "$t1" "${rss_kib:-}" "$archives" \
        "$LOGS/run-once.out" "$FIGURES_B" <<'EOF' || STATUS=1
import collections, json, math, sys
reqs = json.load(open(sys.argv[1]))
n, rc, t0, t1 = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rss_kib, archives, out_path, figures = sys.argv[6], int(sys.argv[7]), sys.argv[8], sys.argv[9]
want = math.ceil(n / 25)
secs = (t1 - t0) / 1e9
by = collections.Counter((r["endpoint"] or "unknown", r["status"]) for r in reqs)
creates = [r for r in reqs if r["endpoint"] == "ExportChannels"]
n_creates = len(creates)
n_429 = sum(1 for r in reqs if r["status"] == 429)
per_minute = collections.Counter(r["at"][:16] for r in creates)      # YYYY-MM-DDTHH:MM
per_second = collections.Counter(r["at"][:19] for r in creates)      # YYYY-MM-DDTHH:MM:SS
floor = max(want - 1, 0) * 60 / 60  # creates at 60/min: one a second after the first
out = [f"(B) run --once: {n:,} channels in one job against the emulator's real rate limits "
       f"(60/min and 2/s for creates; tasks done 2 s after creation)"]
out.append(f"  total time                               {secs:9.1f} s   (exit {rc})")
out.append(f"  rate-limit floor (first to last create)  {floor:9.1f} s   -> total / floor = "
           f"{secs / floor if floor else float('nan'):.2f}x")
if rss_kib:
    out.append(f"  peak RSS                                 {int(rss_kib) / 1024:9.1f} MiB")
out.append(f"  export creates                           {n_creates:9d}     want exactly ceil({n}/25) = {want}")
out.append(f"  429 answers                              {n_429:9d}     want 0")
out.append(f"  busiest minute / second of creates       {max(per_minute.values(), default=0):5d} / "
           f"{max(per_second.values(), default=0):d}   (limits 60 / 2)")
out.append(f"  archives written                         {archives:9d}")
out.append("  requests by endpoint and status:")
for (endpoint, status), count in sorted(by.items()):
    out.append(f"    {endpoint:<26} {status:>4} {count:7d}")
out.append(f"    {'all':<26} {'':>4} {len(reqs):7d}")
broken = []
if rc != 0:
    broken.append(f"run --once exited {rc}: " + open(out_path).read().strip()[:500])
if n_creates != want:
    broken.append(f"{n_creates} export creates, want {want}")
if n_429:
    broken.append(f"{n_429} answers were 429")
if archives != want:
    broken.append(f"{archives} archives written, want {want}")
out += [f"  BROKEN: {b}" for b in broken]
open(figures, "w").write("\n".join(out) + "\n")
sys.exit(1 if broken else 0)
EOF
    [[ -s "$FIGURES_B" ]] || die "part B printed no figures"
}

[[ "$PARTS" == *a* ]] && part_a
[[ "$PARTS" == *b* ]] && part_b

# ---------------------------------------------------------------------------------------------
# report

CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "chatvault scale benchmark"
echo "  machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -sr); load average at the end $LOAD"
echo "  chatvault: $("$BIN" --version), commit $COMMIT"
echo
[[ -s "$FIGURES_A" ]] && { cat "$FIGURES_A"; echo; }
[[ -s "$FIGURES_B" ]] && { cat "$FIGURES_B"; echo; }
if (( STATUS == 0 )); then echo "nothing broken"; else echo "SOMETHING IS BROKEN (see BROKEN lines)"; fi
exit "$STATUS"

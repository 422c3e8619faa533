# Shared by the benchmarks (sourced, not run): stopping what they started, installing
# what they need, finding the binaries cargo built, and starting s3s-fs the way
# scripts/test-servers does. Each script defines say, die, LOGS, CACHE, S3S_BIN,
# S3S_FS_VERSION, WORK, REGION, BUCKET and WAIT_SECS before it calls these (and timed:
# LEG_TIMEOUT, CLK_TCK, EMU_PID).

stop_pid() { # PID: TERM, up to 5 s, then KILL
    local pid=$1 _
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

apt_install() { # PACKAGE...: install, running apt-get update only if the first try fails
    command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it"
    say "installing $* with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$LOGS/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOGS/apt.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$LOGS/apt.log" 2>&1 \
            || die "apt-get install $* (log above)"
    fi
}

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

need_signing_curl() { # the signed PUT's --aws-sigv4 with a caller-given x-amz-content-sha256
    local version
    version=$(curl --version | awk 'NR==1 {print $2}')
    python3 -c 'import sys; v = tuple(int(x) for x in sys.argv[1].split(".")[:2]); sys.exit(v < (7, 86))' "$version" \
        || die "curl $version is too old for the signed PUT (needs >= 7.86)"
}

build_release() { # chatvault and the emulator, release, in one cargo call; read with `artifact`
    (cd "$REPO" && timeout 3600 cargo build --release --locked --workspace \
        --bin chatvault --bin chatvault-emulator --message-format=json-render-diagnostics \
        >"$WORK/build.json" 2>"$LOGS/build.log") || die "cargo build (log above)"
}

artifact() { # TARGET_NAME: the executable cargo reported for that binary
    python3 - "$WORK/build.json" "$1" <<'PY'
import json, sys
path, name = sys.argv[1:]
exe = None
for line in open(path):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target") or {}
    if m.get("reason") == "compiler-artifact" and t.get("name") == name and "bin" in t.get("kind", []) and m.get("executable"):
        exe = m["executable"]
if not exe:
    sys.exit(f"no executable {name} in cargo's output")
print(exe)
PY
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Signed S3 requests with curl; the payload hash is the caller's (UNSIGNED-PAYLOAD unless set).
s3curl() {
    curl -sS --max-time "${CURL_MAX_TIME:-60}" --aws-sigv4 "aws:amz:$REGION:s3" --user "$AK:$SK" "$@"
}

start_s3s() { # DATA_DIR: s3s-fs on a free port with fresh keys and the bench's bucket
    AK="bench-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
    SK="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    S3_PORT=$(free_port)
    S3="http://127.0.0.1:$S3_PORT"
    # s3s's debug lines time every request (which is how HEADs, PUTs, parts and completions
    # are timed): ~30 lines a request.
    RUST_LOG=s3s=debug "$S3S_BIN" --host 127.0.0.1 --port "$S3_PORT" --access-key "$AK" \
        --secret-key "$SK" "$1" </dev/null >"$LOGS/s3s-fs.log" 2>&1 &
    S3S_PID=$!
    local deadline=$((SECONDS + WAIT_SECS)) code
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
}

cpu_ticks() { # PID: user + system clock ticks so far
    awk '{print $14 + $15}' "/proc/$1/stat"
}

timed() { # LOGNAME CMD...: runs CMD under timeout and /usr/bin/time -v; sets LEG_SECS, LEG_RSS,
          # LEG_CPU (CPU seconds of the leg, the emulator and s3s-fs during it), LEG_S3S_FROM
          # (where the leg's lines start in s3s-fs's log)
    local log="$LOGS/$1.log" tv="$WORK/time.txt" t0 t1 rc=0 emu0 s3s0 emu1 s3s1
    shift
    LEG_S3S_FROM=$(stat -c %s "$LOGS/s3s-fs.log")
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

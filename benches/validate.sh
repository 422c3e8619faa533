#!/usr/bin/env bash
# Benchmark: `chatvault validate` on N generated job files (default 10,000) against
# check-jsonschema (PyPI) validating the same files with the same schema, in one run.
#
#   benches/validate.sh            # from any directory
#
# Targets: chatvault under 2 s on the benchmark machine, at least 10x faster than
# check-jsonschema. This is not a test: it prints figures and whether the targets are met.
# It exits non-zero only when something is broken (a build failure, or a tool rejecting the
# generated files, which would make the comparison meaningless).
#
# Knobs (environment):
#   BENCH_N=10000          job files to generate
#   BENCH_SEED=42          generator seed (same seed and N => byte-identical files)
#   CHATVAULT_RUNS=3       timed chatvault runs (median reported)
#   CJ_RUNS=2              timed check-jsonschema runs (median reported; ~20 s each)
#   CJ_MODE=xargs          pass the files to check-jsonschema through xargs even if they fit
#   CHECK_JSONSCHEMA_SPEC=check-jsonschema   pip requirement installed into the venv
#   BENCH_KEEP=1           keep the temp workdir (its path is printed)
#   CARGO_TARGET_DIR       honoured by the build and by `cargo metadata`
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${BENCH_N:-10000}"
SEED="${BENCH_SEED:-42}"
CHATVAULT_RUNS="${CHATVAULT_RUNS:-3}"
CJ_RUNS="${CJ_RUNS:-2}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chatvault-bench"
VENV="$CACHE/venv"
SCHEMA="$REPO/schemas/job.schema.json"

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatvault-bench.XXXXXX")"
cleanup() {
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "kept workdir $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- build chatvault (release)
say "== building chatvault (release) in $REPO"
locked=()
[[ -f "$REPO/Cargo.lock" ]] && locked=(--locked)
(cd "$REPO" && cargo build --release "${locked[@]}" --bin chatvault) >&2
TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps "${locked[@]}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')" \
    || TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET_DIR/release/chatvault"
[[ -x "$BIN" ]] || die "no binary at $BIN"

# ---------------------------------------------------------------- check-jsonschema venv
if [[ ! -x "$VENV/bin/check-jsonschema" ]]; then
    say "== installing check-jsonschema into $VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "${CHECK_JSONSCHEMA_SPEC:-check-jsonschema}" >&2
fi
CJ="$VENV/bin/check-jsonschema"
# check-jsonschema reads .toml files with tomllib (Python >= 3.11) or tomli; make sure one exists.
if ! "$VENV/bin/python" -c 'import tomllib' 2>/dev/null \
    && ! "$VENV/bin/python" -c 'import tomli' 2>/dev/null; then
    say "== installing tomli (TOML support for check-jsonschema on this Python)"
    "$VENV/bin/pip" install --quiet tomli >&2
fi

# ---------------------------------------------------------------- generate the job files
say "== generating $N job files (seed $SEED) in $WORK/jobs"
python3 "$REPO/benches/gen_jobs.py" --count "$N" --seed "$SEED" --out "$WORK/jobs" >/dev/null
cd "$WORK"
find jobs -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.toml' \) | LC_ALL=C sort > files.txt
FILES="$(wc -l < files.txt | tr -d ' ')"
N_YAML="$(grep -cE '\.ya?ml$' files.txt || true)"
N_TOML="$(grep -c '\.toml$' files.txt || true)"
BYTES="$(xargs -a files.txt cat | wc -c | tr -d ' ')"
SET_SHA="$(xargs -a files.txt cat | sha256sum | cut -c1-16)"

# ---------------------------------------------------------------- timing helpers
HAVE_GNU_TIME=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
    HAVE_GNU_TIME=1
fi

# run_timed OUTFILE CMD... : runs CMD with stdout+stderr to OUTFILE; sets LAST_RC, LAST_WALL
# (seconds, from the shell's clock) and LAST_RSS_KB (peak RSS via GNU time, or empty).
run_timed() {
    local out="$1"; shift
    local t0 t1 rc=0
    LAST_RSS_KB=""
    t0="$(date +%s%N)"
    if [[ "$HAVE_GNU_TIME" == 1 ]]; then
        /usr/bin/time -f '%M' -o "$WORK/rss.txt" "$@" >"$out" 2>&1 || rc=$?
    else
        "$@" >"$out" 2>&1 || rc=$?
    fi
    t1="$(date +%s%N)"
    LAST_RC=$rc
    LAST_WALL="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
    if [[ "$HAVE_GNU_TIME" == 1 ]]; then LAST_RSS_KB="$(tail -n 1 "$WORK/rss.txt")"; fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
max_of() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# ---------------------------------------------------------------- sanity: both tools see the same thing
# The schema the binary embeds must be the committed one, or "same schema" would not hold.
if (cd "$REPO" && "$BIN" schema --check --out "$REPO/schemas") >/dev/null 2>&1; then
    SCHEMA_NOTE="schemas/job.schema.json matches the binary's embedded schema"
else
    SCHEMA_NOTE="WARNING: schemas/job.schema.json differs from the binary's embedded schema (chatvault schema --check)"
fi
# Negative control: one bad YAML and one bad TOML file must be rejected by both tools,
# which also proves check-jsonschema really parses the .toml files.
mkdir -p neg/jobs
printf 'schedule: "@daily"\nusers: [alice]\ndestination:\n  compression: brotli\n' > neg/jobs/bad.yaml
printf 'schedule = "@daily"\nusers = ["alice"]\n[destination]\ncompression = "brotli"\n' > neg/jobs/bad.toml
NEG_OK=1
(cd neg && "$BIN" validate jobs) > neg/cv.txt 2>&1 && NEG_OK=0
(cd neg && "$CJ" --schemafile "$SCHEMA" jobs/bad.yaml jobs/bad.toml) > neg/cj.txt 2>&1 && NEG_OK=0
for f in bad.yaml bad.toml; do
    grep -q "$f" neg/cv.txt || NEG_OK=0
    grep -q "$f" neg/cj.txt || NEG_OK=0
done

# How check-jsonschema gets the files: one invocation with every path, when they fit in
# ARG_MAX (relative paths, ~30 bytes each); else xargs, which splits into several
# invocations run one after another (the wall time is then their sum).
ARGS_BYTES="$(awk '{ n += length($0) + 1 + 8 } END { print n + 0 }' files.txt)"
ARG_MAX="$(getconf ARG_MAX 2>/dev/null || echo 131072)"
if [[ "${CJ_MODE:-auto}" != xargs ]] && (( ARGS_BYTES + 65536 < ARG_MAX )); then
    mapfile -t FILE_ARGS < files.txt
    CJ_CMD=("$CJ" --schemafile "$SCHEMA" "${FILE_ARGS[@]}")
    CJ_HOW="$CJ --schemafile $SCHEMA \$(cat files.txt)"
    CJ_NOTE="one process given all $FILES relative paths (jobs/<team>/job-NNNNN.ext) as arguments"
else
    CJ_CMD=(xargs -a files.txt "$CJ" --schemafile "$SCHEMA")
    CJ_HOW="xargs -a files.txt $CJ --schemafile $SCHEMA"
    CJ_NOTE="xargs: several check-jsonschema processes one after another; the wall time is their sum"
fi

# ---------------------------------------------------------------- chatvault
say "== chatvault validate jobs: 1 untimed warm-up + $CHATVAULT_RUNS timed runs"
run_timed cv-warm.txt "$BIN" validate jobs
CV_RC=$LAST_RC
CV_WALLS=(); CV_RSS=()
for ((i = 1; i <= CHATVAULT_RUNS; i++)); do
    run_timed "cv-$i.txt" "$BIN" validate jobs
    (( LAST_RC == CV_RC )) || CV_RC=$LAST_RC
    say "   run $i: ${LAST_WALL} s, exit $LAST_RC"
    CV_WALLS+=("$LAST_WALL"); CV_RSS+=("${LAST_RSS_KB:-0}")
done
CV_WALL="$(median "${CV_WALLS[@]}")"

# ---------------------------------------------------------------- check-jsonschema
say "== check-jsonschema: $CJ_RUNS timed run(s), no warm-up"
CJ_WALLS=(); CJ_RSS=(); CJ_RC=0
for ((i = 1; i <= CJ_RUNS; i++)); do
    run_timed "cj-$i.txt" "${CJ_CMD[@]}"
    (( LAST_RC == 0 )) || CJ_RC=$LAST_RC
    say "   run $i: ${LAST_WALL} s, exit $LAST_RC"
    CJ_WALLS+=("$LAST_WALL"); CJ_RSS+=("${LAST_RSS_KB:-0}")
done
CJ_WALL="$(median "${CJ_WALLS[@]}")"

# ---------------------------------------------------------------- report
rss_mib() { if [[ "$HAVE_GNU_TIME" == 1 ]]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "n/a"; fi; }
rate() { awk -v n="$FILES" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

CPU="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')"
if [[ "$COMMIT" != "not a git checkout" ]] \
    && [[ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    COMMIT="$COMMIT (+ uncommitted changes)"
fi

echo
echo "chatvault validate benchmark"
echo "  machine:   $(nproc) CPUs, ${CPU:-unknown CPU}, $(uname -sr)"
echo "  chatvault: $("$BIN" --version), commit $COMMIT, binary $BIN"
echo "  reference: $("$CJ" --version 2>&1 | head -n 1), $("$VENV/bin/python" --version 2>&1)"
echo "  input:     $FILES files ($N_YAML YAML, $N_TOML TOML; $BYTES bytes; seed $SEED; set sha256 $SET_SHA)"
echo "  schema:    $SCHEMA_NOTE"
echo "  commands:  cd \$WORK && $BIN validate jobs"
echo "               ($CHATVAULT_RUNS timed runs after 1 untimed warm-up; median)"
echo "             cd \$WORK && $CJ_HOW"
echo "               ($CJ_RUNS timed run(s), no warm-up; median; $CJ_NOTE)"
[[ "$HAVE_GNU_TIME" == 1 ]] || echo "  peak RSS:  skipped (GNU /usr/bin/time not available)"
echo
printf '  %-18s %7s %10s %10s %14s   %s\n' tool files "wall s" "files/s" "peak RSS MiB" "exit"
printf '  %-18s %7s %10s %10s %14s   %s\n' "chatvault" "$FILES" "$CV_WALL" "$(rate "$CV_WALL")" \
    "$(rss_mib "$(max_of "${CV_RSS[@]}")")" "$CV_RC   (runs: ${CV_WALLS[*]})"
printf '  %-18s %7s %10s %10s %14s   %s\n' "check-jsonschema" "$FILES" "$CJ_WALL" "$(rate "$CJ_WALL")" \
    "$(rss_mib "$(max_of "${CJ_RSS[@]}")")" "$CJ_RC   (runs: ${CJ_WALLS[*]})"
echo
RATIO="$(awk -v a="$CJ_WALL" -v b="$CV_WALL" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')"
echo "  chatvault is ${RATIO}x faster than check-jsonschema"
T1="$(awk -v s="$CV_WALL" 'BEGIN { print (s < 2.0 ? "MET" : "NOT MET") }')"
T2="$(awk -v r="$RATIO" 'BEGIN { print (r >= 10.0 ? "MET" : "NOT MET") }')"
echo "  target chatvault < 2 s on $FILES files:  $T1 ($CV_WALL s)"
echo "  target >= 10x faster than check-jsonschema: $T2 (${RATIO}x)"
(( FILES == 10000 )) || echo "  (note: the targets are stated for 10,000 files; this run used $FILES)"

# ---------------------------------------------------------------- agreement
STATUS=0
echo
if (( NEG_OK )); then
    echo "  negative control: both tools reject a bad .yaml and a bad .toml file (TOML is really checked)"
else
    echo "  NEGATIVE CONTROL FAILED: a tool accepted an invalid file; see below"
    sed 's/^/    chatvault: /' neg/cv.txt | head -n 5; sed 's/^/    check-jsonschema: /' neg/cj.txt | head -n 5
    STATUS=1
fi
echo "  chatvault says:        $(tail -n 1 cv-1.txt)"
echo "  check-jsonschema says: $(tail -n 1 cj-1.txt)"
if (( CV_RC != 0 || CJ_RC != 0 )); then
    STATUS=1
    echo "  DISAGREEMENT OR FAILURE: the generated files should be valid for both tools"
    (( CV_RC == 0 )) || { echo "  chatvault rejected files (exit $CV_RC):"; head -n 20 cv-1.txt | sed 's/^/    /'; }
    (( CJ_RC == 0 )) || { echo "  check-jsonschema rejected files (exit $CJ_RC):"; head -n 20 cj-1.txt | sed 's/^/    /'; }
else
    echo "  both tools accept all $FILES files (exit 0)"
fi
exit "$STATUS"

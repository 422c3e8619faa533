#!/usr/bin/env python3
"""Deterministic generator of realistic, valid chatvault job files, for benchmarks.

    python3 benches/gen_jobs.py --count 10000 --seed 42 --out /tmp/x/jobs

Writes about 80% YAML (.yaml and some .yml) and 20% TOML into team sub-folders of --out.
Every file is meant to pass both `chatvault validate` and a JSON Schema check against
schemas/job.schema.json; job names are unique (`job-00001`, ...). The same seed and count
always give byte-identical files. Prints the number of files written.

    python3 benches/gen_jobs.py --count 10000 --quiet-at 2026-05-04T12:00:00Z --out /tmp/x/jobs

With --quiet-at TIME every job gets `catch_up: none` and a schedule firing at most once a day
at a wall time (in the job's zone) 3 to 21 hours away from TIME's, so a daemon started at TIME
runs nothing at start-up (a job that never ran runs its latest tick only within 10 minutes of
it under `catch_up: none`) and nothing for the next 2 hours. The rest is drawn as without it.
"""

import argparse
import json
import os
import random
from datetime import datetime
from zoneinfo import ZoneInfo

TEAMS = ["support", "sales", "legal", "eng", "ops", "marketing", "community", "finance", "hr", "security"]

TIMEZONES = [
    "Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata",
    "America/Sao_Paulo", "Asia/Tokyo", "Europe/London", "Pacific/Chatham", "America/St_Johns",
    "Asia/Kathmandu", "Europe/Dublin", "America/Los_Angeles",
]

# (expression, granularity): "s" fires more than once a minute-ish (6-field), "m" several
# times a day, "d" at most once a day. The key's {window_start} format is chosen to match.
SCHEDULES = [
    ("30 2 * * *", "d"), ("0 3 * * *", "d"), ("15 1 * * *", "d"), ("0 6 * * 1", "d"),
    ("0 6 * * MON-FRI", "d"), ("15 3 1 * *", "d"), ("0 0 * * SUN", "d"), ("5 4 * * 0,3", "d"),
    ("0 0 1,15 * *", "d"), ("0 12 * JAN,JUL *", "d"), ("45 23 * * 5", "d"),
    ("0 */6 * * *", "m"), ("*/15 * * * *", "m"), ("0 9-17 * * 1-5", "m"), ("20 */2 * * *", "m"),
    ("0 0,12 * * *", "m"), ("*/30 8-20 * * *", "m"), ("10 * * * *", "m"),
    ("@hourly", "m"), ("@daily", "d"), ("@midnight", "d"), ("@weekly", "d"), ("@monthly", "d"),
    ("0 */5 * * * *", "s"), ("30 0 2 * * *", "s"), ("15 30 */2 * * *", "s"), ("0 0 * * * *", "s"),
    ("*/30 * * * * *", "s"),
]

CHANNEL_TYPES = ["messaging", "livestream", "team", "commerce", "gaming", "support_desk"]
WORDS = [
    "alpha", "beta", "gamma", "delta", "orion", "lyra", "vega", "deal-room", "escalations",
    "general", "random", "help", "vip", "eu", "us", "apac", "launch", "incident", "ops",
    "billing", "onboarding", "feedback", "white-room", "lobby", "qa",
]
DURATIONS_LAG = ["0s", "90s", "5m", "10m", "15m", "30m", "1h", "1h 30m", "2h"]
BUCKETS = ["acme-chat-archive", "acme-legal-hold", "acme-compliance-eu", "acme-backup-us", "chat-exports.acme.io"]


def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def chance(rng, p):
    return rng.random() < p


def channel_id(rng, i):
    base = f"{pick(rng, WORDS)}-{rng.randrange(1, 100000)}"
    if chance(rng, 0.03):
        base += "!x"
    return f"{base}-{i}"  # the index keeps ids unique within a selector


def quiet_schedule(seed, idx, zone, quiet_at):
    """A schedule firing at most once a day, at a wall time in `zone` 3 to 21 hours away from
    `quiet_at`'s (so at least 2 hours away in real time across any DST shift). Drawn from its
    own generator so the rest of the job is drawn as without --quiet-at."""
    rng = random.Random(f"quiet-{seed}-{idx}")
    local = quiet_at.astimezone(ZoneInfo(zone))
    hour = (local.hour + rng.randrange(3, 22)) % 24
    minute = rng.randrange(60)
    form = rng.randrange(5)
    if form == 0:
        return f"{minute} {hour} * * *"
    if form == 1:
        return f"{minute} {hour} * * {pick(rng, ['MON-FRI', '1', '0,3', 'SUN', '2-4'])}"
    if form == 2:
        return f"{minute} {hour} {rng.randrange(1, 29)} * *"
    if form == 3:
        return f"{rng.randrange(60)} {minute} {hour} * * *"
    return f"{minute} {hour} 1,15 * *"


def make_job(rng, idx, team, quiet_at=None, seed=0):
    name = f"job-{idx:05d}"
    sched, gran = pick(rng, SCHEDULES)
    job = {}
    if chance(rng, 0.7):
        job["name"] = name
    if chance(rng, 0.8):
        job["description"] = f"{team.capitalize()} archive #{idx}, {pick(rng, WORDS)} channels ({pick(rng, ['nightly', 'hourly', 'weekly', 'on demand'])})"
    job["schedule"] = sched
    if chance(rng, 0.85):
        job["timezone"] = pick(rng, TIMEZONES)
    if chance(rng, 0.4):
        job["catch_up"] = pick(rng, ["latest", "all", "none"])
    if quiet_at is not None:
        sched, gran = quiet_schedule(seed, idx, job.get("timezone", "UTC"), quiet_at), "d"
        job["schedule"] = sched
        job["catch_up"] = "none"
    if chance(rng, 0.3):
        job["overlap"] = pick(rng, ["skip", "queue"])

    # Window. max is never shorter than the key format's resolution allows (see key below).
    mode = rng.choices(["incremental", "rolling", "fixed", None], [45, 25, 10, 20])[0]
    window = {}
    if mode == "incremental":
        if chance(rng, 0.5):
            window["mode"] = "incremental"
        if chance(rng, 0.8):
            window["lag"] = pick(rng, DURATIONS_LAG)
        if chance(rng, 0.5):
            window["max"] = pick(rng, ["1d", "7d", "3d", "24h"])
        if chance(rng, 0.2):
            window["since"] = pick(rng, ["2025-01-01T00:00:00Z", "2025-06-01T00:00:00+02:00", "2025-11-01T12:00:00Z"])
    elif mode == "rolling":
        window["mode"] = "rolling"
        window["last"] = pick(rng, ["24h", "7d", "1d", "12h", "2h"])
        if chance(rng, 0.7):
            window["lag"] = pick(rng, DURATIONS_LAG)
        if chance(rng, 0.3):
            window["max"] = pick(rng, ["1d", "7d"])
    elif mode == "fixed":
        window["mode"] = "fixed"
        y = rng.randrange(2023, 2026)
        m = rng.randrange(1, 12)
        window["since"] = f"{y}-{m:02d}-01T00:00:00Z"
        window["until"] = f"{y}-{m + 1:02d}-01T00:00:00Z"
        if chance(rng, 0.5):
            window["max"] = pick(rng, ["1d", "7d"])
    if window:
        job["window"] = window

    # Channels and users: at least one of them is non-empty.
    channels = []
    for _ in range(rng.choices([0, 1, 2, 3, 4], [15, 40, 25, 12, 8])[0]):
        kind = rng.choices(["ids", "cid", "filter"], [60, 25, 15])[0]
        ctype = pick(rng, CHANNEL_TYPES)
        if kind == "ids":
            n = rng.choices([rng.randrange(1, 6), rng.randrange(6, 25), rng.randrange(25, 61)], [60, 30, 10])[0]
            channels.append({"type": ctype, "ids": [channel_id(rng, i) for i in range(n)]})
        elif kind == "cid":
            channels.append({"cid": f"{ctype}:{channel_id(rng, len(channels))}"})
        else:
            f = {"team": team}
            if chance(rng, 0.4):
                f["region"] = pick(rng, ["eu", "us", "apac"])
            if chance(rng, 0.2):
                f["frozen"] = False
            if chance(rng, 0.15):
                f["members"] = {"$in": [f"user-{rng.randrange(1000)}", f"user-{rng.randrange(1000, 2000)}"]}
            channels.append({"type": ctype, "filter": f})
    # Selectors of one job must not list the same channel twice (that is a warning).
    if channels:
        job["channels"] = channels
    if not channels or chance(rng, 0.3):
        n = rng.choices([rng.randrange(1, 5), rng.randrange(5, 40)], [70, 30])[0]
        users = []
        for i in range(n):
            style = rng.randrange(4)
            if style == 0:
                users.append(f"user-{rng.randrange(100000)}-{i}")
            elif style == 1:
                users.append(f"{pick(rng, ['alice', 'bob', 'carol', 'dave', 'erin'])}.{pick(rng, WORDS)}{i}")
            elif style == 2:
                users.append(f"{pick(rng, ['ann', 'ben', 'cy'])}{i}@acme.io")
            else:
                users.append(f"u{rng.randrange(10**8):08d}")
        job["users"] = list(dict.fromkeys(users))

    if chance(rng, 0.6):
        export = {}
        if chance(rng, 0.7):
            export["version"] = pick(rng, ["v1", "v2"])
        for flag in ["include_truncated_messages", "include_soft_deleted_channels", "clear_deleted_message_text"]:
            if chance(rng, 0.4):
                export[flag] = chance(rng, 0.5)
        if export:
            job["export"] = export

    # Destination: a few shared buckets, as in a real organisation; {job} keeps keys apart.
    dest = {}
    scheme = rng.choices(["s3", "gs", "file"], [55, 30, 15])[0]
    if scheme == "file":
        dest["url"] = pick(rng, ["file://archive", f"file://archive/{team}", "file:///var/lib/chatvault/archive"])
    else:
        bucket = pick(rng, BUCKETS)
        if scheme == "s3" and chance(rng, 0.15):
            bucket = "${ARCHIVE_BUCKET:-" + bucket + "}"
        dest["url"] = f"{scheme}://{bucket}/{pick(rng, ['stream', 'chat', team, team + '/archive'])}"
    if gran == "s":
        fmt = pick(rng, ["%Y/%m/%d/%H%M%S", "%Y-%m-%dT%H%M%S", None])
    elif gran == "m":
        fmt = pick(rng, ["%Y/%m/%d/%H%M%S", "%Y/%m/%d/%H%M", "%Y-%m-%d/%H%M", None])
    else:
        # A date alone only tells windows apart when `max` cannot split one window into
        # pieces that share a day (a fixed window's pieces start at midnight, a day apart).
        date_only = [] if "max" in window and mode != "fixed" else ["%Y/%m/%d", "%Y-%m-%d"]
        fmt = pick(rng, ["%Y/%m/%d/%H%M%S", "%Y/%m/%d/%H%M", None] + date_only)
    ws = "{window_start}" if fmt is None else "{window_start:" + fmt + "}"
    key = pick(rng, [
        "{job}/" + ws + "/{kind}-{batch}.{ext}",
        "{job}/" + ws + "-{kind}-{batch}.{ext}",
        "{job}/{kind}/" + ws + "/{batch}.{ext}",
        "{job}/" + ws + "/{kind}-{batch}-{task_id}.{ext}",
        "exports/{job}/" + ws + "_{window_end}/{kind}-{batch}.{ext}",
    ])
    if chance(rng, 0.9):
        dest["key"] = key  # else the default key, which has {job} and %H%M%S too
    if chance(rng, 0.7):
        dest["compression"] = pick(rng, ["none", "gzip", "zstd"])
    job["destination"] = dest
    if chance(rng, 0.25):
        job["retention"] = {"warn_before": pick(rng, ["7d", "3d", "14d", "48h", "10d"])}
    return name, job


# ---------------------------------------------------------------- YAML


def yq(s):
    """A YAML scalar: plain when safe, else double-quoted (JSON quoting is valid YAML)."""
    if isinstance(s, bool):
        return "true" if s else "false"
    plain_ok = (
        s
        and s[0].isalpha()
        and all(c.isalnum() or c in "-_./@!" for c in s)
        and s.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n")
    )
    return s if plain_ok else json.dumps(s)


def yaml_flow_map(d):
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(f"{yq(k)}: {yaml_flow_map(v)}")
        elif isinstance(v, list):
            parts.append(f"{yq(k)}: [" + ", ".join(yq(x) for x in v) + "]")
        else:
            parts.append(f"{yq(k)}: {yq(v)}")
    return "{ " + ", ".join(parts) + " }"


def to_yaml(rng, name, job):
    out = []
    if chance(rng, 0.5):
        out.append("# yaml-language-server: $schema=../../schemas/job.schema.json")
    if chance(rng, 0.4):
        out.append(f"# Generated benchmark job {name}.")
    for k, v in job.items():
        if k in ("window", "export", "destination", "retention"):
            out.append(f"{k}:")
            for kk, vv in v.items():
                out.append(f"  {kk}: {yq(vv)}")
        elif k == "channels":
            out.append("channels:")
            for sel in v:
                first = True
                for kk, vv in sel.items():
                    lead = "  - " if first else "    "
                    first = False
                    if kk == "ids":
                        if len(vv) > 8 and chance(rng, 0.3):
                            out.append(f"{lead}ids:")
                            out.extend(f"      - {yq(x)}" for x in vv)
                        else:
                            out.append(f"{lead}ids: [" + ", ".join(yq(x) for x in vv) + "]")
                    elif kk == "filter":
                        out.append(f"{lead}filter: {yaml_flow_map(vv)}")
                    else:
                        out.append(f"{lead}{kk}: {yq(vv)}")
        elif k == "users":
            if chance(rng, 0.5):
                out.append("users:")
                out.extend(f"  - {yq(x)}" for x in v)
            else:
                out.append("users: [" + ", ".join(yq(x) for x in v) + "]")
        else:
            out.append(f"{k}: {yq(v)}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- TOML


def tq(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)  # a JSON string is a valid TOML basic string here (ASCII only)


def toml_inline(d):
    parts = []
    for k, v in d.items():
        key = k if all(c.isalnum() or c in "-_" for c in k) else json.dumps(k)
        if isinstance(v, dict):
            parts.append(f"{key} = {toml_inline(v)}")
        elif isinstance(v, list):
            parts.append(f"{key} = [" + ", ".join(tq(x) for x in v) + "]")
        else:
            parts.append(f"{key} = {tq(v)}")
    return "{ " + ", ".join(parts) + " }"


def to_toml(rng, name, job):
    out = []
    if chance(rng, 0.4):
        out.append(f"# Generated benchmark job {name}.")
    for k, v in job.items():  # top-level scalars and arrays first
        if k == "users":
            out.append("users = [" + ", ".join(tq(x) for x in v) + "]")
        elif not isinstance(v, (dict, list)):
            out.append(f"{k} = {tq(v)}")
    for k in ("window", "export", "destination", "retention"):
        if k in job:
            out.append("")
            out.append(f"[{k}]")
            out.extend(f"{kk} = {tq(vv)}" for kk, vv in job[k].items())
    for sel in job.get("channels", []):
        out.append("")
        out.append("[[channels]]")
        for kk, vv in sel.items():
            if kk == "ids":
                out.append("ids = [" + ", ".join(tq(x) for x in vv) + "]")
            elif kk == "filter":
                out.append(f"filter = {toml_inline(vv)}")
            else:
                out.append(f"{kk} = {tq(vv)}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", required=True, help="folder to write into (created)")
    ap.add_argument("--quiet-at", metavar="TIME",
                    help="RFC 3339 time: no job is due at it or in the 2 hours after (see above)")
    args = ap.parse_args()
    quiet_at = None
    if args.quiet_at:
        quiet_at = datetime.fromisoformat(args.quiet_at.replace("Z", "+00:00"))
        if quiet_at.tzinfo is None:
            ap.error("--quiet-at needs a time with a zone, e.g. 2026-05-04T12:00:00Z")
    rng = random.Random(args.seed)
    for team in TEAMS:
        os.makedirs(os.path.join(args.out, team), exist_ok=True)
    for idx in range(1, args.count + 1):
        team = TEAMS[idx % len(TEAMS)]
        name, job = make_job(rng, idx, team, quiet_at, args.seed)
        if chance(rng, 0.2):
            text, ext = to_toml(rng, name, job), "toml"
        else:
            text, ext = to_yaml(rng, name, job), ("yml" if chance(rng, 0.1) else "yaml")
        with open(os.path.join(args.out, team, f"{name}.{ext}"), "w", encoding="utf-8") as f:
            f.write(text)
    print(args.count)


if __name__ == "__main__":
    main()

//! The plan as a person reads it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::now::NowPlan;
use super::{DstFlag, JobPlan, Plan, RequestPlan, TickPlan};

/// Lists longer than this are cut in the human form (`--format json` has them all).
const SHOWN: usize = 5;

pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan at {}", utc(plan.now));
    for job in &plan.jobs {
        out.push('\n');
        job_text(&mut out, job);
    }
    for np in &plan.not_planned {
        let _ = writeln!(
            out,
            "\n{}: not planned: uses {} (unset here)",
            np.file,
            np.unset_variables
                .iter()
                .map(|v| format!("${{{v}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !plan.holds.is_empty() {
        let _ = writeln!(
            out,
            "\nholds in force (nothing they cover is expired or erased)"
        );
        // Hold names and what they cover hold no control or invisible characters (the hold
        // file's rules refuse them).
        for hold in &plan.holds {
            let _ = writeln!(
                out,
                "  hold {}  ({}): {}",
                hold.name, hold.file, hold.covers
            );
        }
    }
    out
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn job_text(out: &mut String, job: &JobPlan) {
    let _ = writeln!(out, "job {}  ({})", job.name, job.file);
    if let Some(d) = &job.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(
        out,
        "  schedule     {}  in {}; catch_up {}, overlap {}",
        job.schedule, job.timezone, job.catch_up, job.overlap
    );
    let _ = writeln!(
        out,
        "  destination  {}  (export {}, {})",
        job.destination, job.export_version, job.compression
    );
    if let Some(now) = &job.now {
        now_text(out, now);
    }
    for tick in &job.ticks {
        tick_text(out, "tick", tick);
    }
}

/// What `run --once` would do now: the ledger's marks, the tasks it resumes, the due ticks.
fn now_text(out: &mut String, now: &NowPlan) {
    let mark = |t: Option<DateTime<Utc>>| t.map_or_else(|| "none yet".to_owned(), utc);
    let _ = writeln!(
        out,
        "  state        watermark {}, last tick done {}",
        mark(now.watermark),
        mark(now.last_tick)
    );
    if !now.resume.is_empty() {
        let _ = writeln!(
            out,
            "  resumes      {} recorded export task(s), polled again, not exported anew",
            now.resume.len()
        );
        for t in &now.resume {
            let _ = writeln!(
                out,
                "      {:<8} {:04}  task {}  window {} .. {}",
                t.kind,
                t.batch,
                t.task_id,
                utc(t.since),
                utc(t.until)
            );
            let _ = writeln!(out, "                     -> {}", t.key);
        }
    }
    if now.due.is_empty() {
        let _ = writeln!(
            out,
            "  due now      nothing: `run --once` would wait for the next tick"
        );
    }
    for tick in &now.due {
        tick_text(out, "due now", tick);
    }
}

/// `label`: `tick` for the next ticks, `due now` for what a run now would run.
fn tick_text(out: &mut String, label: &str, tick: &TickPlan) {
    let _ = write!(out, "  {label} {}  ({})", utc(tick.at), tick.local);
    match &tick.dst {
        Some(DstFlag::Gap { scheduled }) => {
            let _ = write!(
                out,
                "  [DST gap: {scheduled} does not exist; fires after the gap]"
            );
        }
        Some(DstFlag::Repeated) => {
            let _ = write!(
                out,
                "  [DST: this wall time occurs twice; fires at the first]"
            );
        }
        None => {}
    }
    out.push('\n');
    if tick.windows.is_empty() && tick.snapshot.is_empty() {
        let _ = writeln!(out, "    nothing new to archive");
    }
    for w in &tick.windows {
        let hours = (w.until - w.since).num_minutes() as f64 / 60.0;
        let _ = writeln!(
            out,
            "    window {} .. {}  ({hours}h){}",
            utc(w.since),
            utc(w.until),
            if w.reopened {
                "  left open by an earlier run: redone first"
            } else {
                ""
            }
        );
        for r in &w.requests {
            request_text(out, r);
        }
    }
    if !tick.snapshot.is_empty() {
        let _ = writeln!(
            out,
            "    snapshot of the users' data at the tick (a users export takes no window)"
        );
        for r in &tick.snapshot {
            request_text(out, r);
        }
    }
}

fn request_text(out: &mut String, r: &RequestPlan) {
    let batch = r
        .batch
        .map_or_else(|| "----".to_owned(), |b| format!("{b:04}"));
    let what = match (&r.filter, r.kind) {
        (Some(f), _) => format!(
            "{} channels matching {}, resolved at run time",
            f.channel_type,
            serde_json::Value::Object(f.filter.clone())
        ),
        (None, "users") => listed(&r.users, "user"),
        (None, _) => listed(&r.channels, "channel"),
    };
    let _ = writeln!(out, "      {:<8} {batch}  {what}", r.kind);
    if let Some(key) = &r.key {
        let _ = writeln!(out, "                     -> {key}");
    }
}

fn listed(items: &[String], noun: &str) -> String {
    let n = items.len();
    let head = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if n > SHOWN {
        format!(", … {} more", n - SHOWN)
    } else {
        String::new()
    };
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}: {head}{more}")
}

//! `chatvault expire`: the archives past their job's `keep_for` that no hold covers, listed
//! (`--dry-run`) or deleted behind an expiry record in the job's chain.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::SecondsFormat;

use super::keys::signer_and_keys;
use super::{Picked, Wanted, World, exit, load_and_pick, logging, output, runtime, state_to_read};
use crate::archive::seal::{SealMemory, Sealing};
use crate::cli::{ExpireArgs, LogFormat};
use crate::config::MissingVars;
use crate::config::job::{Job, JobSet};
use crate::lifecycle::expire::{self, Done, Inputs, Plan, Recording};
use crate::lifecycle::pause::PauseAt;
use crate::lifecycle::vouch::NOT_VOUCHED;
use crate::signing::Keyring;
use crate::state::seal_head;
use crate::store::Store;
use crate::text::escape_hidden;

/// Set to a step name (`expire-record`, …), expire freezes there (for crash tests).
const PAUSE_VAR: &str = "CHATVAULT_PAUSE_AT";

pub fn run(args: &ExpireArgs, config: Option<PathBuf>, log: LogFormat, world: &World<'_>) -> u8 {
    logging::init(log, "warn");
    let wanted = Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &args.jobs,
        // Expire never calls Stream: the API key and secret may be unset.
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let Picked { set, jobs, .. } = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    for job in jobs
        .iter()
        .filter(|j| j.keep_for.is_none() && !args.jobs.is_empty())
    {
        output::stdout(&format!(
            "job {}: no keep_for, every archive is kept\n",
            job.name
        ));
    }
    let jobs: Vec<Job> = jobs.into_iter().filter(|j| j.keep_for.is_some()).collect();
    if jobs.is_empty() {
        output::stdout("no job has keep_for: every archive is kept\n");
        return exit::OK;
    }
    if !args.dry_run
        && let Some(job) = jobs.iter().find(|j| j.destination.immutable)
    {
        output::error(
            &format!(
                "job {}: its destination is marked `immutable: true`; expire deletes nothing \
                 there (a versioned, locked bucket would keep every object under a delete \
                 marker)",
                job.name
            ),
            Some("remove keep_for from the job, or let the bucket's lifecycle rules expire it"),
        );
        return exit::INVALID;
    }
    let (signer, keyring) = match signer_and_keys(&set.settings) {
        Ok(loaded) => loaded,
        Err(e) => {
            output::report_for("signing", &e, e.hint());
            return exit::INVALID;
        }
    };
    let state = match state_to_read(&set, world) {
        Ok(state) => state,
        Err(code) => return code,
    };
    // `--now` moves only the cutoff; the expiry record is sealed at the real time.
    let now = args.now.unwrap_or(world.now);
    let pause = PauseAt::at((world.env)(PAUSE_VAR));
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let memory = SealMemory::default();
    let context = Context {
        set: &set,
        state: &state,
        keyring: &keyring,
        signer: signer.as_deref(),
        memory: &memory,
        pause: &pause,
        world,
    };
    let mut code = exit::OK;
    runtime.block_on(async {
        for job in &jobs {
            if !one_job(&context, job, now, args.dry_run).await {
                code = exit::FAILED;
            }
        }
    });
    code
}

struct Context<'a> {
    set: &'a JobSet,
    state: &'a Store,
    keyring: &'a Keyring,
    signer: Option<&'a crate::signing::SigningKey>,
    memory: &'a SealMemory,
    pause: &'a PauseAt,
    world: &'a World<'a>,
}

/// Expires (or lists) one job; `false` when it failed, said on stderr.
async fn one_job(
    context: &Context<'_>,
    job: &Job,
    now: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
) -> bool {
    let Some(keep_for) = job.keep_for else {
        return true;
    };
    let store = match job.destination.open_to_write(&context.world.env_vars) {
        Ok(store) => store,
        Err(e) => {
            output::report_for(&format!("job {}", job.name), &e, None);
            return false;
        }
    };
    let recorded = match seal_head(context.state, &job.name).await {
        Ok(head) => head,
        Err(e) => {
            output::report_for(&format!("job {}: state", job.name), &e, None);
            return false;
        }
    };
    let inputs = Inputs {
        job,
        keep_for,
        store: &store,
        holds: &context.set.settings.holds,
        keyring: context.keyring,
        head: recorded.as_ref().map(|h| h.sequence),
        now,
    };
    let plan = match expire::plan(&inputs).await {
        Ok(plan) => plan,
        Err(e) => {
            output::report_for(&format!("job {}", job.name), &e, e.hint());
            return false;
        }
    };
    output::stdout(&describe(&plan, dry_run));
    let vouched = plan.unvouched.is_empty();
    if !vouched {
        output::error(
            &format!(
                "job {}: {} archive(s) kept because nothing vouches for their manifest",
                job.name,
                plan.unvouched.len()
            ),
            Some("`chatvault verify --job NAME` shows what changed; restore it from a backup"),
        );
    }
    if dry_run {
        if job.destination.immutable {
            output::stdout(
                "  its destination is marked `immutable: true`: expire would delete nothing there\n",
            );
        }
        return vouched;
    }
    let recording = Recording {
        sealing: Sealing {
            signer: context.signer,
            keyring: context.keyring,
            recorded: recorded.as_ref(),
        },
        state: context.state,
        memory: context.memory,
        pause: context.pause,
    };
    match expire::carry_out(job, &store, &plan, &recording, context.world.now).await {
        Ok(done) => {
            output::stdout(&summary(&plan, &done));
            for warning in &done.warnings {
                output::stderr(&format!(
                    "warning: job {}: {}\n",
                    job.name,
                    escape_hidden(warning)
                ));
            }
            match &done.refused {
                None => vouched,
                Some(refused) => {
                    output::error(
                        &format!(
                            "job {}: the store refused to delete {}: {}; nothing else of the \
                             job was touched",
                            job.name,
                            escape_hidden(&refused.key),
                            escape_hidden(&refused.reason)
                        ),
                        Some(
                            "fix the store's permissions and run expire again: the expiry record already names what goes",
                        ),
                    );
                    false
                }
            }
        }
        Err(e) => {
            output::report_for(&format!("job {}", job.name), &e, e.hint());
            false
        }
    }
}

/// What the plan deletes and keeps, one line per archive.
fn describe(plan: &Plan, dry_run: bool) -> String {
    let mut out = String::new();
    let cutoff = plan.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
    let _ = writeln!(
        out,
        "job {}: keep_for {}, windows that ended before {cutoff}",
        plan.job, plan.keep_for
    );
    let verb = if dry_run { "would expire" } else { "expires" };
    for archive in &plan.expiring {
        let _ = writeln!(
            out,
            "  {verb} {}  job {}  ended {}  {} bytes",
            escape_hidden(&archive.key),
            archive.job,
            archive.ended.to_rfc3339_opts(SecondsFormat::Secs, true),
            archive.bytes
        );
    }
    for held in &plan.held {
        let why = match &held.unreadable {
            Some(reason) => escape_hidden(reason).into_owned(),
            None => {
                let names: Vec<String> = held
                    .holds
                    .iter()
                    .map(|n| escape_hidden(n).into_owned())
                    .collect();
                format!("held by {}", names.join(", "))
            }
        };
        let _ = writeln!(out, "  kept {}  {why}", escape_hidden(&held.key));
    }
    for key in &plan.unvouched {
        let _ = writeln!(out, "  {} {}", NOT_VOUCHED, escape_hidden(key));
    }
    for problem in &plan.unreadable {
        let _ = writeln!(out, "  kept (cannot be read) {}", escape_hidden(problem));
    }
    for unfinished in &plan.unfinished {
        let _ = writeln!(
            out,
            "  unfinished: expiry record {} still has {} archive(s) and {} captured file(s) to \
             delete",
            unfinished.record,
            unfinished.archives.len(),
            unfinished.media.len()
        );
    }
    let bytes: u64 = plan.expiring.iter().map(|e| e.bytes).sum();
    let _ = writeln!(
        out,
        "  {} archive(s), {bytes} bytes, {} captured file(s) past retention; {} kept by holds",
        plan.expiring.len(),
        plan.media.len(),
        plan.held.len()
    );
    out
}

fn summary(plan: &Plan, done: &Done) -> String {
    let record = match done.record {
        Some(n) => format!("expiry record {n} written; "),
        None => String::new(),
    };
    let kept = if done.media_kept > 0 {
        format!(", {} still referred to and kept", done.media_kept)
    } else {
        String::new()
    };
    let left = if done.refused.is_some() {
        format!(
            "; stopped at the refused delete, left for the rerun: {} archive(s), and the \
             sidecars, manifests and captured files not yet deleted",
            done.archives_left
        )
    } else {
        String::new()
    };
    format!(
        "  {record}{} archive(s) and {} object(s) deleted, {} captured file(s) among them{kept}\
         {left} (job {})\n",
        done.archives, done.objects, done.media, plan.job
    )
}

//! `chatvault expire` through the binary, on archives real runs wrote against the emulator:
//! what `--dry-run` lists is exactly what goes, `verify` accepts the gap the expiry record
//! names and still catches any other removal, a hold keeps its archives, an immutable
//! destination is refused, and a kill -9 at every step is finished by a rerun.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chatvault::archive::media::layout;
use chatvault::archive::seal::{FORMAT, Removal, RemovalKind, Seal, read_chain, seal_key};
use chatvault::archive::transfer::hex;
use chatvault::config::hold::{Hold, HoldCovers};
use chatvault::config::{LoadOptions, MissingVars, load};
use chatvault::lifecycle::expire::{Inputs, plan};
use chatvault::signing::Keyring;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions, json};
use chrono::{DateTime, DurationRound as _, SecondsFormat, TimeDelta, Utc};
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};

use crate::common::processes::{
    command, finish, kill_once_paused, project_with_job, realtime_config, start_emulator,
};
use crate::common::{Project, files_below};

const JOB: &str = "daily";

/// The two windows the job archives: the first ends 12 hours before the second.
struct Archived {
    project: Project,
    /// When the first window ends; the second ends 12 hours later.
    first_end: DateTime<Utc>,
}

impl Archived {
    fn dir(&self) -> &Path {
        self.project.dir.path()
    }

    fn archive(&self) -> PathBuf {
        self.dir().join("archive")
    }

    fn store(&self) -> Store {
        let url = StoreUrl::File {
            path: self.archive(),
        };
        store::open(&url, &StoreOptions::new(), &[]).expect("store")
    }

    /// Archive keys, from the manifests there.
    fn archives(&self) -> Vec<String> {
        let mut keys: Vec<String> = files_below(&self.archive(), ".manifest.json")
            .iter()
            .map(|p| {
                let manifest: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
                manifest["key"].as_str().expect("a key").to_owned()
            })
            .collect();
        keys.sort();
        keys
    }

    /// The captured files the newest media record of the archive at `key` names as stored.
    fn captured_by(&self, key: &str) -> BTreeSet<String> {
        let mut records: Vec<PathBuf> = files_below(&self.archive(), ".json")
            .into_iter()
            .filter(|p| {
                let k = p
                    .strip_prefix(self.archive())
                    .expect("below")
                    .to_string_lossy()
                    .into_owned();
                k.starts_with(&format!("{key}.media."))
            })
            .collect();
        records.sort_by_key(|p| {
            p.to_string_lossy()
                .rsplit('.')
                .nth(1)
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0)
        });
        let Some(newest) = records.last() else {
            return BTreeSet::new();
        };
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(newest).expect("read")).expect("json");
        record["references"]
            .as_array()
            .expect("references")
            .iter()
            .filter_map(|r| r["sha256"].as_str().map(str::to_owned))
            .collect()
    }

    /// Whether the captured file `sha256` is in the store.
    fn has_file(&self, sha256: &str) -> bool {
        self.archive()
            .join(layout::object_key("_media", sha256))
            .exists()
    }

    /// Objects outside `_chatvault`, by key.
    fn objects(&self) -> Vec<String> {
        let root = self.archive();
        let mut keys: Vec<String> = files_below(&root, "")
            .iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .expect("below")
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|k| !k.starts_with("_chatvault"))
            .collect();
        keys.sort();
        keys
    }

    /// `--now` for expire: one hour after the first window ended a day ago (keep_for 1d), so
    /// only the first is past retention.
    fn now(&self) -> String {
        (self.first_end + TimeDelta::days(1) + TimeDelta::hours(1))
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.project.run(args)
    }

    fn verify(&self, extra: &[&str]) -> (i32, String) {
        let (code, stdout, stderr) = self.run(&[&["verify", "--job", JOB, "jobs"], extra].concat());
        (code, format!("{stdout}{stderr}"))
    }
}

/// A project whose job `daily` (keep_for 1d) archived a fixed window of two channels in two
/// pieces of 12 hours, ending a day ago; `config` goes into the global config, `destination`
/// lines into the job's destination.
async fn archived(config: &str, destination: &str) -> Archived {
    archived_with(config, destination, false).await
}

/// [`archived`]; with `media`, messages carry files (some shared by both windows) that the
/// run captures.
async fn archived_with(config: &str, destination: &str, media: bool) -> Archived {
    let mut emulated = realtime_config(24);
    let mut media_block = "";
    if media {
        emulated.data.media_every = 2;
        emulated.data.avatars = true;
        media_block = "media:\n  hosts: [localhost]\n  allow_http: true\n  \
                       allow_private_addresses: true\n  max_file_size: 1MiB\n";
    }
    let emu = start_emulator(emulated).await;
    let until = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .expect("an hour")
        - TimeDelta::days(1);
    let since = until - TimeDelta::days(1);
    let project = project_with_job(
        &emu,
        config,
        "daily.yaml",
        &format!(
            "name: daily\nschedule: \"0 0 * * *\"\nkeep_for: 1d\n\
             window:\n  mode: fixed\n  since: {}\n  until: {}\n  max: 12h\n\
             channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
             destination:\n  url: file://archive\n  compression: gzip\n{destination}{media_block}",
            since.to_rfc3339_opts(SecondsFormat::Secs, true),
            until.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
    );
    if config.contains("signing.pem") {
        signing_key_file(&project);
    }
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archived = Archived {
        project,
        first_end: since + TimeDelta::hours(12),
    };
    assert_eq!(archived.archives().len(), 2, "{stdout}\n{stderr}");
    archived
}

fn signing_key_file(project: &Project) {
    use std::os::unix::fs::PermissionsExt as _;
    let (_, pem) = chatvault::signing::SigningKey::generate().expect("a key");
    let path = project.dir.path().join(project.file("signing.pem", pem));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_lists_exactly_what_expire_removes_and_verify_accepts_the_gap() {
    let archived = archived("", "").await;
    let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
    let before = archived.objects();
    let now = archived.now();

    let (code, stdout, stderr) = archived.run(&["expire", "--dry-run", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("would expire {first}  job daily  ended ")),
        "{stdout}"
    );
    assert!(!stdout.contains(&second), "{stdout}");
    assert!(stdout.contains("  1 archive(s), "), "{stdout}");
    assert_eq!(archived.objects(), before, "a dry run deletes nothing");

    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("expiry record 2 written"), "{stdout}");
    assert_eq!(archived.archives(), std::slice::from_ref(&second));
    assert!(
        archived.objects().iter().all(|k| !k.starts_with(&first)),
        "everything of {first} is gone: {:?}",
        archived.objects()
    );
    let chain = read_chain(&archived.store(), JOB).await.expect("the chain");
    let removal = chain[1]
        .seal
        .as_ref()
        .expect("a seal")
        .removal
        .clone()
        .expect("an expiry record");
    assert_eq!(removal.kind, RemovalKind::Expiry);
    assert_eq!(removal.archives, std::slice::from_ref(&first));
    assert!(
        removal
            .reason
            .starts_with("keep_for 1d: windows that ended before ")
    );

    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("as expiry record 2 says"), "{out}");

    let (code, stdout, _) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        !stdout.contains("expiry record 3"),
        "nothing more to record: {stdout}"
    );
    assert_eq!(archived.archives(), std::slice::from_ref(&second));

    // Any other removal is still caught.
    for key in archived
        .objects()
        .into_iter()
        .filter(|k| k.starts_with(&second))
    {
        std::fs::remove_file(archived.archive().join(key)).expect("delete");
    }
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{second}.manifest.json: named by seal 1, missing")),
        "{out}"
    );
}

/// Captured files go with the archive only it referred to; those the remaining archive
/// refers to stay, and a kill between two deletes is finished by a rerun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_files_only_the_expired_archive_refers_to_go_and_a_kill_among_them_is_finished() {
    let archived = archived_with("", "", true).await;
    let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
    let (gone, kept) = (archived.captured_by(&first), archived.captured_by(&second));
    let only_first: BTreeSet<String> = gone.difference(&kept).cloned().collect();
    assert!(
        only_first.len() > 1,
        "the first archive has files of its own: {gone:?}"
    );
    assert!(!kept.is_empty());
    assert!(gone.iter().chain(&kept).all(|f| archived.has_file(f)));

    kill_at(&archived, "expire-media").await;
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("removes this captured file, still there"),
        "{out}"
    );
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &archived.now(), "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("unfinished: expiry record 2"), "{stdout}");

    assert!(
        only_first.iter().all(|f| !archived.has_file(f)),
        "{only_first:?}"
    );
    assert!(
        kept.iter().all(|f| archived.has_file(f)),
        "shared files stay"
    );
    let chain = read_chain(&archived.store(), JOB).await.expect("the chain");
    let removal = chain[1]
        .seal
        .as_ref()
        .expect("a seal")
        .removal
        .clone()
        .expect("a record");
    assert_eq!(
        removal.media.iter().cloned().collect::<BTreeSet<_>>(),
        only_first
    );
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("unfinished"), "{out}");
}

/// Appends an unsigned expiry record naming the archives at `keys` and their manifests, as
/// someone with write access to the bucket and no key could.
async fn plant_expiry_record(archived: &Archived, keys: &[String]) {
    let store = archived.store();
    let chain = read_chain(&store, JOB).await.expect("the chain");
    let head = chain.last().expect("a seal");
    let mut documents = Vec::new();
    for key in keys {
        let manifest = format!("{key}.manifest.json");
        let bytes = json::read_bytes(&store, &ObjectPath::from(manifest.as_str()))
            .await
            .expect("read")
            .expect("there");
        documents.push(chatvault::archive::seal::Covered {
            key: manifest,
            sha256: hex(&Sha256::digest(&bytes)),
        });
    }
    let planted = Seal {
        format: FORMAT,
        job: JOB.into(),
        sequence: chain.len() as u64 + 1,
        sealed_at: Utc::now(),
        previous: Some(head.sha256.clone()),
        covers: Vec::new(),
        chatvault_version: "planted".into(),
        removal: Some(Removal {
            kind: RemovalKind::Expiry,
            reason: "keep_for 1d".into(),
            erasure: None,
            ended_before: None,
            archives: keys.to_vec(),
            documents,
            media: Vec::new(),
            replacements: Vec::new(),
        }),
    };
    let at = seal_key(JOB, planted.sequence);
    assert!(
        json::create_signed(&store, &ObjectPath::from(at.as_str()), &planted, None)
            .await
            .expect("written")
    );
}

/// Someone with write access and no key deletes an archive and appends an expiry record
/// naming it: the record's missing signature gives it away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_expiry_record_in_a_signing_deployment_fails_verify() {
    let archived = archived("signing:\n  key_file: signing.pem\n", "").await;
    let key = archived.archives()[0].clone();
    let manifest = format!("{key}.manifest.json");
    plant_expiry_record(&archived, std::slice::from_ref(&key)).await;
    std::fs::remove_file(archived.archive().join(&key)).expect("delete");
    std::fs::remove_file(archived.archive().join(&manifest)).expect("delete");
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unsigned, though seal 1 before it is signed"),
        "{out}"
    );
}

/// An expiry record planted in the bucket (unsigned in a signing deployment; in one that does
/// not sign, past the head the ledger records) names archives a hold keeps: `expire` takes it
/// for no record of its own and deletes nothing it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_expiry_record_gets_nothing_deleted() {
    for config in ["signing:\n  key_file: signing.pem\n", ""] {
        let archived = archived(config, "").await;
        std::fs::create_dir_all(archived.dir().join("holds")).expect("holds/");
        std::fs::write(
            archived.dir().join("holds/all.yaml"),
            "reason: a matter\nset_by: legal\nset_at: 2026-01-01\ncovers:\n  jobs: [daily]\n",
        )
        .expect("a hold");
        plant_expiry_record(&archived, &archived.archives()).await;
        let before = archived.objects();
        let (code, stdout, stderr) = archived.run(&["expire", "--now", &archived.now(), "jobs"]);
        assert_eq!(code, 0, "{config}: {stdout}{stderr}");
        assert!(!stdout.contains("unfinished"), "{config}: {stdout}");
        assert_eq!(archived.objects(), before, "{config}: nothing deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_destination_is_refused_before_anything_is_deleted() {
    let archived = archived("", "  immutable: true\n").await;
    let before = archived.objects();
    let (code, stdout, _) =
        archived.run(&["expire", "--dry-run", "--now", &archived.now(), "jobs"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("expire would delete nothing there"),
        "{stdout}"
    );
    let (code, _, stderr) = archived.run(&["expire", "--now", &archived.now(), "jobs"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("job daily: its destination is marked `immutable: true`"),
        "{stderr}"
    );
    assert_eq!(archived.objects(), before);
    assert_eq!(
        read_chain(&archived.store(), JOB)
            .await
            .expect("chain")
            .len(),
        1
    );
}

/// A hold on the job keeps both archives; the plan names the hold for the one past
/// retention. (Hold files are loaded by the holds part; here the hold is given directly.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_keeps_the_archives_it_covers_and_is_named_for_each() {
    let archived = archived("", "").await;
    let env = |_: &str| None;
    let loaded = load(&LoadOptions {
        paths: vec![archived.dir().join("jobs")],
        config: Some(archived.dir().join("chatvault.yaml")),
        env: &env,
        missing_vars: MissingVars::Warn,
    });
    let set = loaded.into_set().expect("valid jobs");
    let job = set.jobs.iter().find(|j| j.name == JOB).expect("the job");
    let store = archived.store();
    let now: DateTime<Utc> = archived.now().parse().expect("a time");
    let hold = Hold {
        name: "matter-7".into(),
        reason: "litigation".into(),
        set_by: "legal".into(),
        set_at: now,
        covers: HoldCovers {
            jobs: vec![JOB.into()],
            ..HoldCovers::default()
        },
        file: "holds/matter-7.yaml".into(),
    };
    let keep_for = job.keep_for.expect("keep_for");
    let keyring = Keyring::default();
    let inputs = |holds| Inputs {
        job,
        keep_for,
        store: &store,
        holds,
        keyring: &keyring,
        head: None,
        now,
    };
    let unheld = plan(&inputs(&[])).await.expect("a plan");
    assert_eq!(unheld.expiring.len(), 1);
    let holds = [hold];
    let held = plan(&inputs(&holds)).await.expect("a plan");
    assert!(held.expiring.is_empty(), "{held:?}");
    assert_eq!(held.held.len(), 1);
    assert_eq!(held.held[0].key, unheld.expiring[0].key);
    assert_eq!(held.held[0].holds, ["matter-7"]);
}

/// Runs expire frozen at `step`, kills it (SIGKILL) once it says so.
async fn kill_at(archived: &Archived, step: &str) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.args(["expire", "--now", &archived.now(), "jobs"])
        .current_dir(archived.dir())
        .env("CHATVAULT_PAUSE_AT", step);
    kill_once_paused(cmd, &format!("paused at {step}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_step_a_rerun_finishes_the_expiry_and_verify_passes() {
    // After the manifests, only captured files are left (none here): the work is done.
    for (step, unfinished) in [
        ("expire-record", true),
        ("expire-archives", true),
        ("expire-sidecars", true),
        ("expire-manifests", false),
    ] {
        let archived = archived("", "").await;
        let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
        kill_at(&archived, step).await;
        let (code, out) = archived.verify(&[]);
        assert_eq!(
            code, 0,
            "{step}: half-done is unfinished, not broken: {out}"
        );
        assert_eq!(
            out.contains("warning: unfinished"),
            unfinished,
            "{step}: {out}"
        );

        let (code, stdout, stderr) = archived.run(&["expire", "--now", &archived.now(), "jobs"]);
        assert_eq!(code, 0, "{step}: {stdout}{stderr}");
        assert_eq!(
            stdout.contains("unfinished: expiry record 2"),
            unfinished,
            "{step}: {stdout}"
        );
        assert!(
            !stdout.contains("expiry record 3"),
            "{step}: no second record: {stdout}"
        );
        assert_eq!(archived.archives(), std::slice::from_ref(&second), "{step}");
        assert!(
            archived.objects().iter().all(|k| !k.starts_with(&first)),
            "{step}: {:?}",
            archived.objects()
        );
        let (code, out) = archived.verify(&[]);
        assert_eq!(code, 0, "{step}: {out}");
        assert!(!out.contains("unfinished"), "{step}: {out}");
    }
}

/// `run --expire` in a daemon on a clock the test drives: the archive long past `keep_for`
/// goes at start; a hold the daemon is given on reload (SIGHUP) keeps the other past its
/// retention; once the hold is lifted the next daily pass takes it; no sleep waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_expires_at_start_then_daily_and_keeps_what_a_reloaded_hold_covers() {
    use chatvault::api::{ClientConfig, StreamClient};
    use chatvault::clock::SharedClock;
    use chatvault::runner::daemon::{self, Control, DaemonOptions};
    use chatvault::runner::{LogReporter, Runner, RunnerOptions};
    use chatvault_emulator::{ClockMode, Emulator, EmulatorConfig};
    use chrono::TimeZone as _;
    use std::sync::Arc;

    use crate::common::driven::DrivenClock;
    use crate::common::write_archive;

    let start = Utc
        .with_ymd_and_hms(2026, 5, 4, 0, 30, 0)
        .single()
        .expect("a time");
    let emu = Emulator::start(EmulatorConfig {
        clock: ClockMode::Manual,
        start_time: start,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a folder");
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(dir.path().join("jobs")).expect("jobs/");
    std::fs::write(
        dir.path().join("chatvault.yaml"),
        format!(
            "state:\n  url: file://{}\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    // A yearly job that never runs here (catch_up none): only the duty touches the archives.
    std::fs::write(
        dir.path().join("jobs/daily.yaml"),
        format!(
            "name: daily\nschedule: \"0 0 1 1 *\"\ncatch_up: none\nkeep_for: 30d\nusers: [alice]\n\
             destination:\n  url: file://{}\n",
            archive.display()
        ),
    )
    .expect("job");
    let line = serde_json::json!({"type": "message", "id": "m1"});
    write_archive(&archive, "old.jsonl", JOB, std::slice::from_ref(&line));
    write_archive(&archive, "recent.jsonl", JOB, std::slice::from_ref(&line));
    let recent = archive.join("recent.jsonl.manifest.json");
    let text = std::fs::read_to_string(&recent).expect("read");
    std::fs::write(
        &recent,
        text.replace(
            "\"window_until\":\"2026-01-02T00:00:00Z\"",
            "\"window_until\":\"2026-05-01T00:00:00Z\"",
        ),
    )
    .expect("write");

    let env = |_: &str| None;
    let loaded = load(&LoadOptions {
        paths: vec![dir.path().join("jobs")],
        config: Some(dir.path().join("chatvault.yaml")),
        env: &env,
        missing_vars: MissingVars::Error,
    });
    let set = loaded.into_set().expect("valid jobs");
    let driven = DrivenClock::new(emu.clock().clone());
    let clock: SharedClock = Arc::new(driven.clone());
    let client = StreamClient::new(
        &ClientConfig::new(&emu.base_url(), emu.api_key(), &emu.config().api_secret),
        clock.clone(),
    )
    .expect("client");
    let state = store::open(&set.settings.state, &set.settings.state_options, &[]).expect("state");
    let runner = Runner::new(
        client,
        state,
        clock,
        vec![],
        Arc::new(LogReporter),
        RunnerOptions::default(),
    )
    .expect("runner");
    let (stop, control) = tokio::sync::mpsc::channel(1);
    let options = DaemonOptions {
        expire: Some(Arc::new(Vec::new())),
        ..DaemonOptions::default()
    };
    let daemon = tokio::spawn(daemon::run(
        Arc::new(runner),
        set.jobs.clone(),
        options,
        control,
    ));

    let gone = |key: &str| !archive.join(format!("{key}.manifest.json")).exists();
    let mut waited = 0;
    while !gone("old.jsonl") {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
        assert!(waited < 3000, "the start pass never expired old.jsonl");
    }
    assert!(!gone("recent.jsonl"), "not past keep_for yet");
    // A hold set meanwhile (SIGHUP) keeps it past its retention.
    let hold = Hold {
        name: "matter-1".into(),
        reason: "a matter".into(),
        set_by: "legal".into(),
        set_at: start,
        covers: HoldCovers {
            jobs: vec![JOB.to_owned()],
            ..HoldCovers::default()
        },
        file: dir.path().join("holds/matter-1.yaml"),
    };
    let reload = |holds: Vec<Hold>| Control::Reload {
        jobs: set.jobs.clone(),
        holds,
    };
    stop.send(reload(vec![hold]))
        .await
        .expect("daemon listening");
    let held_until = Utc
        .with_ymd_and_hms(2026, 6, 10, 0, 0, 0)
        .single()
        .expect("a time");
    while driven.now() < held_until {
        driven.advance(TimeDelta::hours(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !gone("recent.jsonl"),
        "the hold kept it through ten daily passes"
    );
    // The hold lifted: the next daily pass takes it.
    stop.send(reload(Vec::new()))
        .await
        .expect("daemon listening");
    let mut hours = 0;
    while !gone("recent.jsonl") {
        driven.advance(TimeDelta::hours(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        hours += 1;
        assert!(
            hours < 24 * 3,
            "recent.jsonl never expired once the hold was lifted"
        );
    }
    let now = driven.now();
    assert!(now > held_until, "expired while held: {now}");
    stop.send(Control::Stop).await.expect("daemon listening");
    daemon.await.expect("daemon task");
    let chain = read_chain(&archived_store(&archive), JOB)
        .await
        .expect("chain");
    let records: Vec<Vec<String>> = chain
        .iter()
        .filter_map(|s| s.seal.as_ref().ok()?.removal.clone())
        .map(|r| r.archives)
        .collect();
    assert_eq!(
        records,
        [
            vec!["old.jsonl".to_owned()],
            vec!["recent.jsonl".to_owned()]
        ]
    );
}

fn archived_store(path: &Path) -> Store {
    let url = StoreUrl::File {
        path: path.to_path_buf(),
    };
    store::open(&url, &StoreOptions::new(), &[]).expect("store")
}

/// An archive and its erasure replacement are one: past retention, both are listed and go
/// together, once a seal vouches for the replacement's manifest; before, a replacement
/// planted in the bucket keeps them both, reported, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_and_its_erasure_replacement_expire_together() {
    use chatvault::archive::replacement::replacement_key;
    use chatvault::archive::seal::{SealMemory, Sealing, seal};

    let archived = archived("", "").await;
    let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
    let replacement = replacement_key(&first, 1);
    let root = archived.archive();
    std::fs::copy(root.join(&first), root.join(&replacement)).expect("copy the archive");
    let mut manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join(format!("{first}.manifest.json"))).expect("read"),
    )
    .expect("json");
    manifest["key"] = replacement.clone().into();
    manifest
        .as_object_mut()
        .expect("an object")
        .remove("signature");
    std::fs::write(
        root.join(format!("{replacement}.manifest.json")),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write the manifest");

    let now = archived.now();
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "kept: its manifest is not the one sealed/signed (changed after the fact?) \
             {replacement}"
        )),
        "{stdout}"
    );
    assert_eq!(archived.archives().len(), 3, "nothing deleted: {stdout}");

    let keyring = Keyring::default();
    let sealing = Sealing {
        signer: None,
        keyring: &keyring,
        recorded: None,
    };
    let sealed = seal(
        &archived.store(),
        JOB,
        "_media",
        sealing,
        Utc::now(),
        &SealMemory::default(),
    )
    .await
    .expect("the replacement sealed");
    // As a run's end does: a seal past the ledger's head is no seal of the deployment's.
    let state = StoreUrl::parse("file://.chatvault/state", archived.dir()).expect("a state URL");
    let state = store::open(&state, &StoreOptions::new(), &[]).expect("the state");
    chatvault::lifecycle::head::record_head(&state, JOB, &sealed.head)
        .await
        .expect("the ledger's head moved");
    let (code, stdout, stderr) = archived.run(&["expire", "--dry-run", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for key in [&first, &replacement] {
        assert!(
            stdout.contains(&format!("would expire {key}  ")),
            "{stdout}"
        );
    }
    assert!(!stdout.contains(&second), "{stdout}");
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(archived.archives(), std::slice::from_ref(&second));
}

/// Rewrites the manifest of the archive at `key` with `change`, as someone with write access
/// to the bucket and no key could.
fn tamper(archived: &Archived, key: &str, change: impl FnOnce(&mut serde_json::Value)) {
    let path = archived.archive().join(format!("{key}.manifest.json"));
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    change(&mut manifest);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).expect("json")).expect("write");
}

/// A young archive whose manifest was rewritten to end in 2020 is not expired: no seal names
/// those bytes, so it is kept, reported, exit 1; the archive truly past retention still goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_changed_in_the_bucket_is_kept_and_reported_not_expired() {
    let archived = archived("", "").await;
    let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
    tamper(&archived, &second, |m| {
        m["window_until"] = "2020-01-01T00:00:00Z".into();
    });
    let now = archived.now();
    for dry in [true, false] {
        let args: Vec<&str> = if dry {
            vec!["expire", "--dry-run", "--now", &now, "jobs"]
        } else {
            vec!["expire", "--now", &now, "jobs"]
        };
        let (code, stdout, stderr) = archived.run(&args);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!(
                "kept: its manifest is not the one sealed/signed (changed after the fact?) \
                 {second}"
            )),
            "{stdout}"
        );
        assert!(
            stderr.contains("1 archive(s) kept because nothing vouches for their manifest"),
            "{stderr}"
        );
    }
    assert_eq!(archived.archives(), std::slice::from_ref(&second));
    assert!(!archived.objects().iter().any(|k| k.starts_with(&first)));
}

/// The expiry record becomes the ledger's seal head, so rewriting it afterwards (in a
/// deployment that does not sign) shows in `verify --job`, which checks the chain against
/// the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_expiry_record_is_caught_by_verify_with_the_state() {
    let archived = archived("", "").await;
    let now = archived.now();
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 0, "{out}");

    let path = archived.archive().join(seal_key(JOB, 2));
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the record")).expect("json");
    record["removal"]["reason"] = "keep_for 1d: rewritten".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&record).expect("json")).expect("write");
    let (code, out) = archived.verify(&[]);
    assert_eq!(code, 1, "{out}");
}

/// `--now` moves the cutoff only: the record is sealed at the time expire ran, and names the
/// cutoff it used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_record_is_sealed_at_the_real_time_and_names_the_cutoff() {
    let archived = archived("", "").await;
    let now = archived.now();
    let started = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("a second");
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let ended = Utc::now();
    let chain = read_chain(&archived.store(), JOB).await.expect("the chain");
    let record = chain.last().expect("a seal").seal.as_ref().expect("a seal");
    assert!(
        record.sealed_at >= started && record.sealed_at <= ended,
        "{} not between {started} and {ended}",
        record.sealed_at
    );
    let cutoff = now.parse::<DateTime<Utc>>().expect("a time") - TimeDelta::days(1);
    let removal = record.removal.as_ref().expect("an expiry record");
    assert_eq!(removal.ended_before, Some(cutoff));
}

/// expire never calls Stream: a global config naming the API key and secret as variables
/// that are not set does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_runs_without_the_api_key_and_secret() {
    let archived = archived(
        "  key: ${STREAM_API_KEY}\n  secret: ${STREAM_API_SECRET}\n",
        "",
    )
    .await;
    let now = archived.now();
    let (code, stdout, stderr) = archived.run(&["expire", "--now", &now, "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(archived.archives().len(), 1, "{stdout}");
}

/// After a delete the store refuses, the summary counts only the archives deleted and says
/// what is left for the rerun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_refused_delete_the_summary_counts_only_what_was_deleted() {
    let archived = archived("", "").await;
    let [first, second] = <[String; 2]>::try_from(archived.archives()).expect("two");
    // A folder where the second archive was: the local store cannot delete it as an object.
    let path = archived.archive().join(&second);
    std::fs::remove_file(&path).expect("remove the archive");
    std::fs::create_dir(&path).expect("a folder in its place");
    std::fs::write(path.join("x"), b"x").expect("a file inside");

    let (code, stdout, stderr) = archived.run(&["expire", "--now", "2030-01-01T00:00:00Z", "jobs"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("refused to delete {second}")),
        "{stderr}"
    );
    assert!(
        stdout.contains("1 archive(s) and 1 object(s) deleted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("left for the rerun: 1 archive(s)"),
        "{stdout}"
    );
    assert!(!archived.archive().join(&first).exists());
}

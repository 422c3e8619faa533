//! The command line: what users type, and the help they read. No logic lives here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "chatvault",
    version,
    about = "Archive Stream Chat data on a schedule, driven by job files kept in git",
    long_about = "Archive Stream Chat data on a schedule, driven by job files kept in git.\n\n\
        Each job file (YAML or TOML, one job per file, usually under jobs/) says which channels \
        and users to export, which stretch of message time, when (cron), and where the archives \
        go (S3, GCS or a local folder). A global chatvault.yaml|toml beside the jobs folder holds \
        the API credentials, the state location and defaults.\n\n\
        Getting started:\n  \
        chatvault validate jobs/          check every job file (no network, no secrets)\n  \
        chatvault plan jobs/              show what the next runs would archive\n  \
        chatvault run --once jobs/        run what is due now, then exit (cron jobs)\n  \
        chatvault run jobs/               run every job on its schedule (daemon)\n  \
        chatvault status jobs/            last success, watermark and tasks in flight per job\n\n\
        Every field of a job file and of the global config (schedule, window, channels, users, \
        destination, notify, …) is described in the JSON Schemas that `chatvault schema` \
        writes; an editor pointed at them completes and explains each field as you type.\n\n\
        Environment: STREAM_API_KEY and STREAM_API_SECRET (the defaults of api.key and \
        api.secret in the global config), AWS_* and GOOGLE_* for S3 and GCS stores, \
        CHATVAULT_LOG for the log level. `chatvault <command> --help` tells more about each \
        command.\n\n\
        Exit codes: 0 ok, 1 a run failed, 2 invalid job files or bad usage.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// The global config file (API credentials, state location, defaults) [default:
    /// chatvault.yaml, .yml or .toml in the folder that holds the jobs folder, if there is one]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How `run` and `status` write log lines on stderr (the other commands print only their
    /// report); the level comes from CHATVAULT_LOG (e.g. debug, or chatvault=debug) and
    /// defaults to info
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per state change (progress bars instead under `run --once` at a
    /// terminal)
    Human,
    /// One JSON object per line with timestamp, level, message and the run's fields (job,
    /// tick, run_id, batch, task_id), for log collectors; never progress bars
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check job files, the global config and hold files, and report every problem at once
    ///
    /// Prints each problem as `file:line:col: field.path: message`, then a summary. Exits 0 when
    /// every file is valid (warnings allowed unless --deny-warnings), 2 otherwise. Needs no
    /// network and no secrets: an unset ${VAR} is a warning here.
    ///
    /// In CI, `--format github` annotates a pull request and `--format sarif` feeds code
    /// scanning, e.g. `chatvault validate --format sarif jobs/ > chatvault.sarif`.
    Validate(ValidateArgs),
    /// Show what each job's next ticks would do: windows, export requests and object keys
    ///
    /// Validates the files first (exit 2 and the problems when any is invalid), then prints,
    /// per job, its next --next ticks in its time zone, the window of message time each would
    /// archive, the export requests (at most 25 channels or users each) and the object key of
    /// each archive. Needs no network, no secrets and no state: it plans as if every planned
    /// tick succeeds. Pin the clock with --now to compare runs.
    Plan(PlanArgs),
    /// Run jobs: as a daemon (default), once (--once, for cron jobs), or as a dry run
    ///
    /// Without flags, runs every job on its schedule until SIGTERM or SIGINT (running jobs get
    /// --grace to finish; what cannot finish resumes on the next start), and reloads the job
    /// files on SIGHUP, keeping the old ones if the new ones are invalid.
    ///
    /// `run --once` runs what is due now (or only the jobs named with --job) and exits: 0 when
    /// every run succeeded, 1 when any failed or SIGTERM/SIGINT stopped it (within --grace;
    /// the next run resumes its recorded export tasks). Meant for Kubernetes CronJobs. A
    /// listed channel or user Stream does not have is left out of its export with a warning
    /// (the rest is archived, and the run still exits 0); the next window asks for it again.
    ///
    /// `run --dry-run jobs/` is the check to gate pull requests on: it validates every file,
    /// prints the plan, writes nothing and exits 2 when any file is invalid.
    ///
    /// A real run needs the API key and secret (STREAM_API_KEY and STREAM_API_SECRET, or
    /// api.* in the global config) and credentials for the destination and state stores
    /// (AWS_* for s3://, GOOGLE_* for gs://, or their options in the files). What was archived
    /// is recorded in the state store (state.url; .chatvault/state beside the global config by
    /// default), which replicas must share.
    ///
    /// Watching it: --listen serves Prometheus metrics on /metrics (last success, runs by
    /// outcome, bytes archived, tasks in flight and days before Stream deletes their files,
    /// API requests and rate-limit waits), /healthz (the scheduler is alive) and /readyz
    /// (every job's state was read; 503 while draining). A `notify:` block in the global config
    /// or a job file posts webhooks on failure, recovery and lapse risk, and pings a dead
    /// man's switch URL when a run starts, succeeds or fails.
    Run(RunArgs),
    /// Show each job's state: last success, watermark, next tick, export tasks in flight
    ///
    /// Reads the state store named in the global config (no API calls). Tasks are listed with
    /// their age and the days left before Stream deletes their file (60 days). Exits 0 when
    /// all is well, 1 when a job's last run failed or a task is close to lapsing.
    Status(StatusArgs),
    /// Re-read archives; check their manifests, signatures and each job's chain of seals
    ///
    /// Streams every archive of a job (--job) or of a whole destination (--url) through
    /// SHA-256 and compares size and hash with the manifest written when the archive was
    /// committed. Lists missing archives, corrupt ones, and extra objects no manifest names.
    ///
    /// Signatures: every manifest, record and seal that carries one is checked against the
    /// public keys (--public-key, repeatable; with --job also signing.public_key_files). A
    /// signature that does not hold or is by another key is an error; unsigned documents are
    /// counted, or are errors with --require-signatures (which needs a key). Without a key,
    /// signed documents are counted as not checked.
    ///
    /// Seals (_chatvault/seals/<job>/): they must form one chain, every document a seal names
    /// must be there with the bytes it names, and every other document must have been written
    /// after the newest seal (awaiting the next one); where the seals are signed, only
    /// documents that verify may await. A document gone that an expiry or erasure record
    /// names with the bytes its seal named is removed, not missing; what such a record names
    /// and is still there is a warning (run expire or erase again). Signed documents with no seal at all are an error.
    /// --state (with --url) compares each chain's newest seal with the one the state's ledger
    /// records, which catches seals removed from the end.
    ///
    /// Exits 0 when all match, 1 on any mismatch or when the location holds no archive (of
    /// the job), 2 on bad usage or invalid job files.
    Verify(VerifyArgs),
    /// Find messages in the archives: who wrote what, where and when
    ///
    /// Reads the archives of the selected jobs (all by default), or of one destination
    /// (--url) for someone who has the archive but not the job files. Only archives whose
    /// manifests say they can hold a match are read, each as a stream; reading never writes.
    /// QUERY is one argument; its terms must all hold:
    ///
    ///   word  "a phrase"        the text holds it as whole words (any case); -word excludes
    ///   word*                   a word starting so
    ///   a OR b                  either (OR joins the words and phrases beside it)
    ///   from:USER_ID            written by this user (repeat: any of them)
    ///   in:TYPE:ID              in this channel (repeat: any of them)
    ///   after:T  before:T       created at or after / before T (RFC 3339, or YYYY-MM-DD:
    ///                           00:00 in --tz)
    ///   has:attachment          with an attachment; has:image, has:file, has:video,
    ///                           has:audio by the attachment's type; has:link a link
    ///   is:reply                a thread reply
    ///
    /// Operators are read in any case (FROM:); ids are exact. A word one typo from an
    /// operator (form:, inn:) is an error; quote it ("form:x") to search for the text.
    /// Links to files are printed without their signed query string.
    ///
    /// Hits come in time order, a message found in several archives once. With the global
    /// config's signing.public_key_files, an erasure replacement not signed by one of them is
    /// not read (the original is). Exits 0, 1 when an archive is missing or corrupt or such a
    /// replacement is left out (named on stderr; the search goes on) or the location holds no
    /// archive at all, 2 on a malformed query or invalid job files.
    /// Example: chatvault search 'refund OR invoice from:u42 after:2026-03-01'
    #[command(verbatim_doc_comment)]
    Search(SearchArgs),
    /// Count what older archives hold, so that searches can skip them
    ///
    /// Archives whose manifests do not count everything they hold (format 1 counts nothing,
    /// format 2 only message authors) are read once each and get a catalog record beside them
    /// (`<key>.catalog.json`, written create-only; the manifest is never rewritten) counting
    /// their channels, message times and every user they name. Archives counted already, or
    /// with a catalog record already, are left alone, so running it again changes nothing. `verify` treats
    /// catalog records like manifests, not as extra objects. Exits 0, 1 when an archive could
    /// not be read (named on stderr) or the location holds none, 2 on invalid job files.
    Index(IndexArgs),
    /// Delete the archives past their job's keep_for that no legal hold covers
    ///
    /// For each selected job with `keep_for` (all by default), the archives whose window ended
    /// (a users snapshot: was taken) longer than keep_for before now, and that no hold in
    /// holds/ covers, go with their manifests, catalog and media records, and the captured
    /// files no remaining archive refers to. First an expiry record is written into the job's
    /// chain of seals (signed when a signing key is set) naming everything about to go, so
    /// `verify` accepts the gap and still catches any other removal. An archive and its
    /// erasure replacements go together or stay together. A destination with `immutable:
    /// true` is refused before anything is deleted.
    ///
    /// Killed half-way, run it again: it finishes what an expiry record names and is still
    /// there, and writes no second record for it.
    ///
    /// Exits 0, 1 when a job could not be expired (a store refused a delete, named on stderr;
    /// nothing else of that job is touched), 2 on an immutable destination or invalid job
    /// files.
    Expire(ExpireArgs),
    /// Capture the files older archives link to, and retry what runs could not fetch
    ///
    /// For each archive without a media record (written before media capture, or with
    /// media.capture: false), reads the archive once for its links (attachments, images,
    /// avatars, channel images), fetches each under the job's `media` settings, stores it
    /// content-addressed (`_media/sha256/ab/…`, create-only) and writes the archive's first
    /// record (`<key>.media.1.json`). For each archive whose newest record has failed
    /// references, fetches those again and writes the next record. Expired links are
    /// refreshed through Stream (needs the API settings; not with --url). At most
    /// --max-files references are fetched per call, counted before each archive is read; it
    /// says how many archives are left, and running it again goes on from there. References
    /// recorded refused or too large are retried only with --recheck, when the current
    /// settings allow them; without it the summary counts them. --dry-run prints, per
    /// archive, how many links it would fetch and how many the settings refuse, each link
    /// without its signed query (refused ones marked), and fetches nothing. With --url no job
    /// file applies: the built-in media settings do (Stream's CDN hosts only), and it says so.
    /// Jobs with media.capture: false are left alone. Exits 0, 1 when an archive or record could not be read or written
    /// (named on stderr) or the location holds none, 2 on invalid job files.
    Media(MediaArgs),
    /// Erase one person from the archive: their items out, an erasure record in each chain
    ///
    /// Finds every archive of the selected jobs (all by default) holding anything of the
    /// user (their messages, reactions, memberships, read state or user record; from the
    /// manifests' counts, older archives read) and writes a replacement without it beside
    /// each (`<stem>.erased-<n>.<ext>`, same compression), with a manifest naming what it
    /// supersedes and how many items went. In other people's messages their id and name
    /// become the placeholder `erased-user` / "Erased user"; message text that names them
    /// in words is not rewritten. Then, per job, an erasure record in the chain of seals
    /// (signed when a key is set) names the replaced archives, their documents and the
    /// captured files only their items referred to, and those are deleted. The request
    /// (`erasures/<id>.json` in the state store, with --reason) is written first, so runs
    /// leave the user out of new exports from then on; its completion
    /// (`erasures/<id>.done.json`) last. Rerun for the same user after a failure or a
    /// crash, it takes the unfinished request up again and finishes it. Archives a hold
    /// covers are left untouched and listed. Refused before anything is written when a
    /// destination is immutable. --dry-run lists the archives and what would go, and writes
    /// nothing. Exits 0 when all is done, 1 when an archive was held, could not be read or a
    /// step failed (rerun to finish), 2 on bad usage or invalid job files.
    /// Example: chatvault erase --user u42 --reason 'Art. 17 request 2026-118'
    #[command(verbatim_doc_comment)]
    Erase(EraseArgs),
    /// Print one channel's conversation: HTML to hand over, Markdown, text or JSON Lines
    ///
    /// Reads the channel's messages from the archives of the selected jobs (all by default)
    /// or of one destination (--url), in time order, every message exactly once: replies
    /// under their thread's first message, a reply whose parent is outside the range (or
    /// itself, or in a loop) on its own and marked, edited and deleted messages marked,
    /// attachments listed with what became of their files (captured: size, type, SHA-256;
    /// else why not), links without their signed query, reactions counted, times in --tz.
    /// The HTML is one self-contained file (no script, nothing fetched; captured images up to
    /// 1 MiB embedded as data: URIs) and, like every format, shows message text as text.
    /// --media DIR copies the captured files beside it.
    /// HTML, Markdown and text name the channel, range and zone, when and by which chatvault
    /// version the file was made, every archive read (key, SHA-256, manifest format) and the
    /// message count; when an archive could not be read the file opens with an INCOMPLETE
    /// banner naming each and what was wrong (exit 1), as when a captured file cannot be read.
    /// JSON Lines prints each message as the
    /// archive holds it. Exits as `search` does, and 1 when no archive holds the channel.
    /// Example: chatvault transcript --in messaging:support --after 2026-03-01 --format html
    Transcript(TranscriptArgs),
    /// Serve a read-only web viewer of the archives, for people who will not run a CLI
    ///
    /// Pages: the jobs, each with a coverage calendar (every day of message time archived,
    /// partly archived, missing, failed or still at Stream, and the days users snapshots were
    /// taken), last run, next tick and exports at risk of lapsing; every archived channel
    /// with its message count and time span; a channel day by day, thread replies under their
    /// parent, captured images inline and other captured files as downloads (at
    /// /media/SHA256), files not captured with why; search (the query language of `chatvault
    /// search`, at /search?q=QUERY); an archive's manifest, verified on request. Archives a
    /// legal hold covers are marked with the holds (on the archive's page) and so are their
    /// days (on the calendars). It reads the
    /// jobs' destinations and the state store and writes to neither. No page runs a script or
    /// loads anything from elsewhere; message text is always shown as text.
    ///
    /// The archive is personal data: it listens on 127.0.0.1:8080 by default, and refuses an
    /// address other machines can reach unless --auth-token-file is given; every request
    /// then needs the token (a bearer token, or the password of the browser's login prompt,
    /// any user name). Each page view is logged on stderr with its path and query (never the
    /// token). Runs until interrupted (SIGINT/SIGTERM); exits 2 on invalid arguments or job
    /// files.
    /// Example: chatvault ui --listen 0.0.0.0:8080 --auth-token-file /run/secrets/ui-token
    Ui(UiArgs),
    /// List the legal holds in force, each with the archives and bytes it covers
    ///
    /// Holds are the files in `holds/` beside the global config (`*.yaml`, `*.yml`, `*.toml`;
    /// validated with the job files). For each hold: its reason, who set it and when, what it
    /// covers, and per job the archives it keeps (nothing they hold is expired or erased)
    /// with their stored bytes. Reads the destinations of the jobs a hold may cover, never
    /// writes. Where a hold names users and an archive's manifest does not count everyone
    /// it names (manifests before format 3), the archive (or its catalog record) is read. An
    /// archive that cannot be read is named on stderr and counted as held: the hold wins. A
    /// channel or user a hold names that no archive holds is pointed out (not an error).
    /// Exits 0, 1 when a store, manifest or archive could not be read, 2 on invalid job or
    /// hold files.
    Holds(HoldsArgs),
    /// Make the Ed25519 key pair manifests, records and seals are signed with
    ///
    /// `keys generate --out FILE` writes a new private key to FILE (PKCS#8 PEM, created with
    /// mode 0600; an existing FILE is never overwritten) and prints its public key (PEM) on
    /// stdout. Name the private key in the global config (`signing: { key_file: FILE }`, or
    /// `signing: { key: ${VAR} }` from a secret store) and hand the public key to whoever
    /// checks the archives (`verify --public-key`, `signing.public_key_files`). Exits 0, 1
    /// when FILE exists or cannot be written.
    /// Example: chatvault keys generate --out chatvault-signing.pem --public-out chatvault-signing.pub
    Keys(KeysArgs),
    /// Write the JSON Schemas of job files and of the global config
    ///
    /// Point editors at them with `# yaml-language-server: $schema=../schemas/job.schema.json`
    /// as a job file's first line. `--check` in CI fails when the committed files are stale.
    Schema(SchemaArgs),
    /// Print a shell completion script for bash, zsh or fish
    ///
    /// The script completes every subcommand, flag and flag value of this version; regenerate
    /// it after upgrading. Install it where your shell looks for completions, e.g.:
    ///
    ///   bash:  chatvault completions bash > ~/.local/share/bash-completion/completions/chatvault
    ///   zsh:   chatvault completions zsh > ~/.zfunc/_chatvault
    ///          (with `fpath=(~/.zfunc $fpath)` before `compinit` in ~/.zshrc)
    ///   fish:  chatvault completions fish > ~/.config/fish/completions/chatvault.fish
    #[command(verbatim_doc_comment)]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct Paths {
    /// Job files, or folders searched recursively for *.yaml, *.yml and *.toml (hidden folders
    /// and chatvault.yaml|yml|toml are skipped)
    #[arg(value_name = "PATH", default_value = "jobs")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// How to print problems: for people, for scripts, as GitHub Actions annotations, or as
    /// SARIF for code scanning
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,

    /// Treat warnings (an unset variable, an inline secret, …) as errors
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Args)]
pub struct PlanOptions {
    /// Plan as if it were this time (RFC 3339, e.g. 2026-03-28T12:00:00Z); with `run`, only
    /// together with --dry-run [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,

    /// How many upcoming ticks to show per job (with `run`: for --dry-run)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub next: usize,

    /// How to print the plan (with `run`: for --dry-run)
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Also show what `run --once` would do now (or at --now): the ticks due, the catch-up
    /// after the watermark and the export tasks it would resume, from the state store the
    /// global config names, read only. Without it nothing but the job files is read (with
    /// `run`: for --dry-run)
    #[arg(long)]
    pub state: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Only these jobs (repeat the flag for several); by default every job
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    #[command(flatten)]
    pub plan: PlanOptions,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Validate and print the plan; no network, no writes
    #[arg(long, conflicts_with = "once")]
    pub dry_run: bool,

    /// Run what is due now, then exit (0 all succeeded, 1 any run failed)
    #[arg(long)]
    pub once: bool,

    /// Only these jobs (repeat the flag for several); by default every job
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// How many jobs run at the same time; more wait for a free slot. Each job works on up
    /// to 4 export requests at once, and all share Stream's rate limits
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Delay each scheduled run by a random time up to this (e.g. 30s), so replicas and jobs
    /// sharing a schedule do not all start in the same second
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub jitter: std::time::Duration,

    /// On SIGTERM or SIGINT, how long running jobs get. The daemon lets them finish, then
    /// stops them at their next step (10 s more at most). `run --once` starts nothing new and
    /// gives steps in flight until 3/4 of it to reach a point the state records, stops them
    /// then, and exits 1 by the end of it (plus up to 5 s for notifications). The default fits
    /// Kubernetes' default 30 s termination grace period. What stopped resumes on the next
    /// run; a second signal stops at once
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "20s")]
    pub grace: std::time::Duration,

    /// How long a run's lease on its tick lasts unless renewed (every third of it): after a
    /// crash, another replica or restart takes the tick over this long after the last renewal
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub lease_ttl: std::time::Duration,

    /// Daemon only: serve /metrics (Prometheus), /healthz and /readyz on this address, e.g.
    /// 127.0.0.1:9464 (or 0.0.0.0:9464 in a container; port 0 picks a free one, logged)
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["once", "dry_run"])]
    pub listen: Option<std::net::SocketAddr>,

    /// With --listen: read every job's state again this often for /metrics, so this
    /// replica's gauges follow runs made by other replicas (spread over the interval, at most 5
    /// reads a second, so a pass over N jobs takes at least N/5 seconds; each read is one
    /// listing on S3 or GCS: 50 jobs every 5m make 14,400 listings a day)
    #[arg(long, value_name = "DURATION", value_parser = parse_refresh, default_value = "5m", requires = "listen")]
    pub state_refresh: std::time::Duration,

    /// Daemon only: also expire the archives of the jobs with keep_for, once a day (as
    /// `chatvault expire` does); off by default
    #[arg(long, conflicts_with_all = ["once", "dry_run"])]
    pub expire: bool,

    #[command(flatten)]
    pub plan: PlanOptions,
}

#[derive(Debug, Args)]
pub struct ExpireArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Only these jobs (repeat the flag for several); by default every job with keep_for
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// List the archives that would go (key, job, end of window, bytes) and the holds that
    /// keep others; write and delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Expire as if it were this time (RFC 3339, e.g. 2033-03-28T12:00:00Z) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Only these jobs (repeat the flag for several)
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// How to print the status
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Verify this job's archives, in the destination its job file names
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "url",
        conflicts_with = "url"
    )]
    pub job: Option<String>,

    /// Verify every archive under this destination (s3://, gs:// or file://); store options
    /// come from the AWS_* / GOOGLE_* environment
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Check signatures against this public key (PEM; repeat the flag for several). With
    /// --job, the config's signing.public_key_files count too (never its private key); with
    /// none, signed documents are counted as not checked
    #[arg(long = "public-key", value_name = "FILE")]
    pub public_keys: Vec<PathBuf>,

    /// Fail on unsigned documents and on jobs without a seal, instead of counting them. Needs
    /// a public key (--public-key, or with --job signing.public_key_files)
    #[arg(long)]
    pub require_signatures: bool,

    /// With --url: the state store (s3://, gs:// or file://) whose ledgers record each job's
    /// newest seal, so seals removed from the end of a chain are caught. Not with --job: the
    /// config's state store is used there
    #[arg(
        long,
        value_name = "STATE_URL",
        requires = "url",
        conflicts_with = "job"
    )]
    pub state: Option<String>,

    /// How to print the report
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

/// Which archives a reading command reads: the jobs' destinations, or one store.
#[derive(Debug, Args)]
pub struct Archives {
    #[command(flatten)]
    pub paths: Paths,

    /// Only these jobs' archives (repeat the flag for several); by default every job's
    #[arg(long = "job", value_name = "NAME", conflicts_with = "url")]
    pub jobs: Vec<String>,

    /// Every archive under this destination (s3://, gs:// or file://) instead of the jobs',
    /// for someone who has the archive but not the job files; store options come from the
    /// AWS_* / GOOGLE_* environment
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct HoldsArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// For people, or one JSON document for scripts
    #[arg(long, value_enum, default_value_t = HoldsFormat::Human)]
    pub format: HoldsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HoldsFormat {
    /// Each hold, what it covers, and per job its archives (key and size)
    Human,
    /// `{"holds": [...], "problems": [...]}`: each hold with name, file, reason, set_by,
    /// set_at, covers, archives, bytes, jobs[] (job, archives, bytes, keys) and unmatched
    /// (channels, users no archive holds)
    Json,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, as one argument (quote it in the shell)
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: String,

    #[command(flatten)]
    pub archives: Archives,

    /// How to print the hits [default: table at a terminal, jsonl otherwise]
    #[arg(long, value_enum)]
    pub format: Option<SearchFormat>,

    /// Print at most this many hits (the earliest); every match is still counted: `N of M
    /// message(s)`
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// The time zone after:/before: dates are read in (a date is 00:00 there) and the table
    /// shows times in (an IANA name); RFC 3339 times keep their own offset
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchFormat {
    /// Time, channel, user and text, the matches marked, control characters escaped
    Table,
    /// One JSON object per hit: job, key, cid, id, user, created_at, text, parent_id
    Jsonl,
    /// Comma-separated values for spreadsheets, safe against formula injection
    Csv,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub archives: Archives,
}

#[derive(Debug, Args)]
pub struct MediaArgs {
    #[command(flatten)]
    pub archives: Archives,

    /// Fetch at most this many references in this call. An archive without a record is read
    /// only while some are left; when it has more links than are left, the first ones are
    /// fetched and the rest recorded failed ("not fetched yet"), so the next call fetches them
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_files: usize,

    /// Also retry references recorded refused or too large that the current media settings
    /// allow (the host is now on the list, or max_file_size is now larger)
    #[arg(long)]
    pub recheck: bool,

    /// Print what would be fetched, per archive, and fetch nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// The user id to erase, exactly as Stream has it
    #[arg(long, value_name = "ID")]
    pub user: String,

    /// Only these jobs' archives (repeat the flag for several); by default every job's
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// Why: kept in the state store's erasure document, never in the archive
    #[arg(long, value_name = "TEXT", required_unless_present = "dry_run")]
    pub reason: Option<String>,

    /// List the archives holding the user and what would be removed; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// The channel, as TYPE:ID (e.g. messaging:general)
    #[arg(long = "in", value_name = "CID")]
    pub cid: String,

    /// Only messages created at or after this time (RFC 3339, or YYYY-MM-DD: 00:00 in --tz)
    #[arg(long, value_name = "T")]
    pub after: Option<String>,

    /// Only messages created before this time (RFC 3339, or YYYY-MM-DD: 00:00 in --tz)
    #[arg(long, value_name = "T")]
    pub before: Option<String>,

    /// The time zone the times are shown in and --after/--before dates are read in (an IANA
    /// name)
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,

    /// How to print the conversation
    #[arg(long, value_enum, default_value_t = TranscriptFormat::Txt)]
    pub format: TranscriptFormat,

    /// Copy the captured files the messages link to into DIR, as SHA256.EXT, each checked
    /// against its SHA-256; html and md link to them as DIR/SHA256.EXT, so give DIR relative
    /// to where the transcript is saved (e.g. `--media files > transcript.html`). Without it,
    /// html embeds images up to 1 MiB
    #[arg(long, value_name = "DIR")]
    pub media: Option<PathBuf>,

    #[command(flatten)]
    pub archives: Archives,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TranscriptFormat {
    /// One self-contained HTML file, to read in a browser or hand over
    Html,
    /// Markdown, every character of the messages escaped
    Md,
    /// Plain text, control characters escaped
    Txt,
    /// Each message as the archive holds it, one per line: a v2 item byte for byte (html
    /// included, as data), a v1 message with every field, only the space between tokens gone;
    /// a signed file link loses its query string (the signature)
    Jsonl,
}

#[derive(Debug, Args)]
pub struct UiArgs {
    #[command(flatten)]
    pub paths: Paths,

    /// Only these jobs (repeat the flag for several); by default every job
    #[arg(long = "job", value_name = "NAME")]
    pub jobs: Vec<String>,

    /// The address to serve on, as IP:PORT; one other machines can reach needs
    /// --auth-token-file
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// A file whose first line is the token every request must carry (bearer token, or the
    /// password of HTTP Basic auth)
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// The time zone days and times are shown in (an IANA name)
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new private signing key to --out and print its public key
    ///
    /// The private key goes to --out only, created with mode 0600 (readable by its owner
    /// alone, as chatvault insists when it loads it); an existing file is never overwritten.
    /// The public key (PEM) goes to stdout, and to --public-out when given; the key's id and
    /// what to do next go to stderr.
    Generate(KeysGenerateArgs),
}

#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// The file to write the private key to (PKCS#8 PEM); must not exist yet
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Also write the public key (PEM) to this file; must not exist yet
    #[arg(long, value_name = "FILE")]
    pub public_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Folder to write job.schema.json, config.schema.json and hold.schema.json into
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    pub out: PathBuf,

    /// Write nothing; exit 1 if the files in --out differ from what this version generates
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// `file:line:col: field.path: message` lines and a summary, for people
    Human,
    /// One JSON document: `valid`, counts, and `diagnostics[]` with file, line, column, path,
    /// severity and message
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`) that annotate a pull request
    Github,
    /// A SARIF 2.1.0 log, for code scanning (e.g. GitHub's upload-sarif action)
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Text for people
    Human,
    /// One pretty-printed JSON document, for scripts
    Json,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: expected a duration such as 30s or 5m"))
}

fn parse_refresh(text: &str) -> Result<std::time::Duration, String> {
    let every = parse_duration(text)?;
    if every < std::time::Duration::from_secs(1) {
        return Err("at least 1s: every pass lists each job's state".into());
    }
    Ok(every)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected an RFC 3339 time such as 2026-03-28T12:00:00Z"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every command a user can reach says what it does at length, and every flag, argument
    /// and value says what it is for: `--help` is meant to be enough without the README.
    #[test]
    fn every_command_flag_and_value_has_help() {
        Cli::command().debug_assert();
        let mut cli = Cli::command();
        cli.build();
        let mut missing = Vec::new();
        let mut commands = vec![(String::from("chatvault"), cli)];
        while let Some((path, command)) = commands.pop() {
            if command.get_long_about().is_none() {
                missing.push(format!("{path}: no long description"));
            }
            if command.get_about().is_none() {
                missing.push(format!("{path}: no summary"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() {
                    missing.push(format!("{path} {id}: no help"));
                }
                let values = arg.get_possible_values();
                let explained = values.iter().filter(|v| v.get_help().is_some()).count();
                // A value list is explained value by value, or not at all where the names say
                // it (bash, zsh, fish).
                if explained != 0 && explained != values.len() {
                    missing.push(format!("{path} {id}: some values without help"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    commands.push((format!("{path} {}", sub.get_name()), sub.clone()));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn formats_and_log_formats_explain_each_value() {
        let cli = Cli::command();
        for (command, arg) in [
            ("validate", "format"),
            ("plan", "format"),
            ("run", "log_format"),
        ] {
            let sub = cli
                .find_subcommand(command)
                .unwrap_or_else(|| panic!("{command}"));
            let arg = sub
                .get_arguments()
                .chain(cli.get_arguments())
                .find(|a| a.get_id() == arg)
                .unwrap_or_else(|| panic!("{command} {arg}"));
            for value in arg.get_possible_values() {
                assert!(
                    value.get_help().is_some(),
                    "{command} --{arg}: {} unexplained",
                    value.get_name()
                );
            }
        }
    }
}

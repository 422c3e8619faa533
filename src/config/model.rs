//! The job file and the global config as users write them (YAML or TOML).
//!
//! These types are the contract: the JSON Schemas in `schemas/` are generated from them and
//! their doc comments become the schema descriptions editors show. Values that need parsing
//! (cron, zones, durations, times, URLs, key templates) stay text here and are checked in
//! `validate`, where every problem can be reported with its position.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One chatvault job: which Stream Chat data to archive, when, and where to.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chatvault job", extend("required" = ["schedule"]))]
pub struct JobFile {
    /// Unique name of the job among all job files; used in object keys, state and metrics.
    /// Letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64
    /// characters. Defaults to the file name without its extension.
    pub name: Option<String>,
    /// Free text for people reading the job; chatvault only shows it.
    pub description: Option<String>,
    /// When the job runs: a 5-field cron expression (`minute hour day-of-month month
    /// day-of-week`, e.g. `30 2 * * *`), a 6-field one with seconds first, or one of
    /// `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
    /// Evaluated in `timezone`.
    // Defaulted for serde only, so the other fields are still checked when it is missing;
    // the schema requires it.
    #[serde(default)]
    pub schedule: String,
    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Defaults to the global
    /// `defaults.timezone`, else UTC; never the host's zone.
    pub timezone: Option<String>,
    /// What to do about ticks missed while chatvault was not running: `latest` (one run
    /// covering the whole gap, the default), `all` (one run per missed tick) or `none` (skip
    /// them; the next window still starts at the watermark). With `latest` and `all` a job
    /// that never ran runs its latest tick at once; with `none` only a tick at most 10
    /// minutes old runs, so a new job waits for its next tick.
    pub catch_up: Option<CatchUp>,
    /// What to do when a tick comes while the previous run of the job still runs: `skip`
    /// (the default; the next run covers the time) or `queue` (run it afterwards).
    pub overlap: Option<Overlap>,
    /// Which stretch of message time each run covers.
    pub window: Option<WindowSpec>,
    /// Channels to export, as explicit lists or filters resolved at run time.
    #[serde(default)]
    pub channels: Vec<ChannelSelector>,
    /// User ids whose data to export (Stream's users export), in requests of at most 25.
    #[serde(default)]
    pub users: Vec<String>,
    /// Options passed to Stream's export; unset ones come from the global `defaults.export`.
    pub export: Option<ExportSpec>,
    /// Where archives are written; unset fields come from the global `defaults.destination`.
    pub destination: Option<DestinationSpec>,
    /// When to warn about exports nearing Stream's 60-day file retention.
    pub retention: Option<RetentionSpec>,
    /// How long archives are kept: `7y` (calendar years), `30d` (days) or both (`1y30d`).
    /// `chatvault expire` deletes the archives whose window ended (a users snapshot: was
    /// taken) longer ago than this, unless a legal hold covers them, and records what it
    /// deleted in the job's chain of seals. Unset: archives are kept forever.
    pub keep_for: Option<String>,
    /// Who to tell when a run fails or recovers, or an export nears its 60-day lapse. Replaces
    /// the global `notify` as a whole when set.
    pub notify: Option<NotifySpec>,
    /// Capturing the files messages link to (attachments, images, avatars) into the
    /// destination; unset fields come from the global `defaults.media`.
    pub media: Option<MediaSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    #[default]
    Latest,
    All,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    #[default]
    Skip,
    Queue,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    #[default]
    Incremental,
    Rolling,
    Fixed,
}

/// The window of message time `[since, until)` a run covers.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `incremental` (the default): from where the last successful run ended up to the tick
    /// minus `lag`, so missed or failed runs lose nothing. `rolling`: the `last` stretch
    /// before the tick minus `lag`. `fixed`: the absolute `since`/`until` window, archived once.
    pub mode: Option<WindowMode>,
    /// How far behind the tick the window ends, so late messages are in place; e.g. `15m`.
    /// Durations are written like `90s`, `15m`, `24h`, `7d`, `1h 30m`.
    pub lag: Option<String>,
    /// Longest window a single export may cover; longer windows (a catch-up after downtime, a
    /// long fixed window) are split into pieces of at most this length, e.g. `7d`.
    pub max: Option<String>,
    /// `rolling` only: the length of the window, e.g. `24h`.
    pub last: Option<String>,
    /// `fixed`: the window's start. `incremental`: where the very first run starts (default:
    /// one schedule interval before the first tick). An RFC 3339 time, e.g.
    /// `2024-01-01T00:00:00Z`.
    pub since: Option<String>,
    /// `fixed` only: the window's end (exclusive), an RFC 3339 time after `since`.
    pub until: Option<String>,
}

/// A set of channels: `type` with `ids`, a single `cid`, or `type` with a `filter` resolved
/// through Stream's query-channels endpoint at run time.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSelector {
    /// Channel type, e.g. `messaging`, `livestream`, `team`.
    #[serde(rename = "type")]
    pub channel_type: Option<String>,
    /// Channel ids of `type`.
    #[schemars(length(min = 1))]
    pub ids: Option<Vec<String>>,
    /// One channel as `type:id`, e.g. `livestream:white-room`.
    pub cid: Option<String>,
    /// A query-channels filter (Stream's filter syntax), e.g. `{ team: support }`; matching
    /// channels of `type` are found at run time.
    pub filter: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportVersion {
    V1,
    #[default]
    V2,
}

/// Options of Stream's export request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSpec {
    /// Export file format: `v1` (one JSON document) or `v2` (JSON Lines; the default).
    pub version: Option<ExportVersion>,
    /// Include messages hidden by a channel truncation (default false, as Stream's).
    pub include_truncated_messages: Option<bool>,
    /// Include soft-deleted channels (default false, as Stream's).
    pub include_soft_deleted_channels: Option<bool>,
    /// Blank the text of deleted messages in the export (default false, as Stream's).
    pub clear_deleted_message_text: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    #[default]
    Gzip,
    Zstd,
}

/// Where archives go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or `file://path` (a relative path is read
    /// from the global config's folder, which is the one holding the jobs folder unless
    /// `--config` names a config elsewhere). Default `file://archive`.
    pub url: Option<String>,
    /// Object key template below the URL's prefix. Placeholders: `{job}`,
    /// `{window_start}` and `{window_end}` (UTC; optionally with a strftime format, e.g.
    /// `{window_start:%Y/%m/%d}`), `{batch}` (0001, 0002, … within a window), `{kind}`
    /// (`channels` or `users`), `{task_id}` and `{ext}` (e.g. `jsonl.gz`). Default
    /// `{job}/{window_start:%Y/%m/%d}/{window_start:%H%M%S}-{kind}-{batch}.{ext}`.
    pub key: Option<String>,
    /// Compression of archives: `none`, `gzip` (the default) or `zstd`.
    pub compression: Option<Compression>,
    /// Store options for `url`, as object_store names them: for S3 e.g. `aws_region`,
    /// `aws_endpoint`, `aws_access_key_id`, `aws_secret_access_key`, `aws_allow_http`; for GCS
    /// e.g. `google_service_account`, `google_base_url`. Unknown names are errors. Write
    /// secrets as `${VAR}`. They apply on top of the `AWS_*` / `GOOGLE_*` environment.
    pub options: Option<BTreeMap<String, String>>,
    /// The bucket is write-once (S3 Object Lock, GCS bucket lock). Every upload to S3 then
    /// carries a SHA-256 checksum, which a bucket with Object Lock and a default retention
    /// demands. Nothing chatvault does deletes in a destination; settings that would (archive
    /// expiry, erasure) are to be refused for a write-once one. Default false.
    pub immutable: Option<bool>,
}

/// Warnings about Stream's 60-day file retention.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// How long before Stream's 60-day retention lapses an unfinished export is flagged
    /// (log, status); default `7d`, less than `60d`.
    pub warn_before: Option<String>,
}

/// Notifications. Failing to notify is logged and never fails a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// Webhooks to POST to when something happens (see `on`).
    pub webhooks: Option<Vec<WebhookSpec>>,
    /// A dead man's switch in the healthchecks.io style: `<ping>/start` is requested when a run
    /// starts, `<ping>` when it succeeds and `<ping>/fail` when it fails, so the service alerts
    /// when runs stop arriving. `{job}` is replaced by the job's name (e.g.
    /// `https://hc-ping.com/${HC_PING_KEY}/{job}`). Write it as `${VAR}`.
    pub ping: Option<String>,
}

/// One webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["url"]))]
pub struct WebhookSpec {
    /// An http(s) URL. Whoever has it can post to it: write it as `${VAR}`.
    // Defaulted for serde only, so the other fields are still checked when it is missing;
    // the schema requires it.
    #[serde(default)]
    pub url: String,
    /// The body: `json` (chatvault's own, documented in the README; the default) or `slack`
    /// (a `{"text": ...}` message, also understood by Mattermost and other Slack-compatible
    /// hooks).
    pub format: Option<WebhookFormat>,
    /// Which events to send: `failure` (a run failed), `recovery` (a run succeeded after a
    /// failed one), `lapse_risk` (an unfinished export nears Stream's 60-day limit), `missing`
    /// (Stream does not have a listed channel or user; the rest was exported without it),
    /// `incomplete` (a run archived everything it could, but a channel asked for was not in
    /// its export, or a user's export reached Stream's 10,000-message cap). Default: all five.
    #[schemars(length(min = 1))]
    pub on: Option<Vec<NotifyEvent>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Failure,
    Recovery,
    LapseRisk,
    Missing,
    Incomplete,
}

/// What the archive keeps of the files messages, users and channels link to. Links are written
/// by end users, so only `https` links to hosts on `hosts` are fetched, and never from a
/// loopback, private, link-local, CGNAT or metadata address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaSpec {
    /// Download each file Stream hosts and store it in the destination (default true);
    /// `false` keeps links only, and they stop working when Stream's signatures expire (14
    /// days).
    pub capture: Option<bool>,
    /// Host names files may be fetched from. `*` stands for one or more characters within one
    /// label, and only left of the last two labels (`*.stream-io-cdn.com` matches
    /// `us-east.stream-io-cdn.com`, not `stream-io-cdn.com.evil.com`); IP literals match only
    /// the same address. Default: Stream's CDN, `*.stream-io-cdn.com` and
    /// `stream-chat-*.imgix.net`. A job's list replaces the default list.
    #[schemars(length(min = 1))]
    pub hosts: Option<Vec<String>>,
    /// Fetch `http` links too (default false: only `https`).
    pub allow_http: Option<bool>,
    /// Fetch from loopback, private, link-local, CGNAT and metadata addresses (default false).
    /// Only for tests and labs: with it, a link in a message can reach what the machine can.
    pub allow_private_addresses: Option<bool>,
    /// The largest file stored, e.g. `100MiB` (the default, Stream's upload limit), `5MB` or a
    /// number of bytes; a larger one is recorded as too large and not stored.
    pub max_file_size: Option<Size>,
    /// Files fetched at once, 1 to 64 (default 8).
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: Option<u32>,
    /// Where files are stored below the destination's root, content-addressed as
    /// `<prefix>/sha256/ab/<sha256>` (default `_media`; the leading `_` keeps Hive-style readers
    /// out). Letters, digits and `/ . _ - =`, no `..`; archive keys must not fall under it.
    pub prefix: Option<String>,
}

/// A size: text with a unit (`100MiB`, `5MB`) or a number of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(i64),
    Text(String),
}

impl JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "integer"] })
    }
}

/// The global config, `chatvault.yaml` or `chatvault.toml` beside the jobs folder.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "chatvault config")]
pub struct ConfigFile {
    /// How to reach Stream's API.
    pub api: Option<ApiSpec>,
    /// Where chatvault keeps its records of what it has archived.
    pub state: Option<StateSpec>,
    /// Values for fields a job leaves unset.
    pub defaults: Option<DefaultsSpec>,
    /// Notifications for every job that sets no `notify` of its own.
    pub notify: Option<NotifySpec>,
    /// Signing what chatvault writes beside archives, and the public keys `verify` accepts.
    pub signing: Option<SigningSpec>,
}

/// The Ed25519 key manifests, media and catalog records and seals are signed with, so anyone
/// with the public key can tell they were written by chatvault and not changed since. Without
/// a key nothing is signed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningSpec {
    /// The private key's PEM text (`-----BEGIN PRIVATE KEY-----`); write it as `${VAR}` rather
    /// than inline. Mutually exclusive with `key_file`.
    pub key: Option<String>,
    /// A file holding the private key (e.g. a mounted Kubernetes Secret), as `chatvault keys
    /// generate` writes it; only its owner may read it (mode 0600). Relative to this file's
    /// folder.
    pub key_file: Option<String>,
    /// Public key files (`-----BEGIN PUBLIC KEY-----`) whose signatures `verify` accepts: the
    /// current key's, and after a rotation the old keys' too, so what they signed still
    /// verifies. Relative to this file's folder; read when `verify` runs.
    pub public_key_files: Option<Vec<String>>,
}

/// Stream API credentials and endpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    /// The app's API key. Default `${STREAM_API_KEY}`.
    pub key: Option<String>,
    /// The app's API secret; write it as `${STREAM_API_SECRET}` (the default) rather than
    /// inline. Mutually exclusive with `secret_file`.
    pub secret: Option<String>,
    /// A file holding the API secret (e.g. a mounted Kubernetes Secret).
    pub secret_file: Option<String>,
    /// Base URL of the API. Default `https://chat.stream-io-api.com`.
    pub base_url: Option<String>,
}

/// Where state lives.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// `file://path`, `s3://bucket/prefix` or `gs://bucket/prefix`. Default
    /// `file://.chatvault/state` beside the jobs folder. Replicas sharing jobs must share it.
    pub url: Option<String>,
    /// Store options for `url`, as for `destination.options`.
    pub options: Option<BTreeMap<String, String>>,
}

/// Defaults for every job.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// Time zone for jobs that set none (IANA name). Default UTC.
    pub timezone: Option<String>,
    /// Destination fields for jobs that leave them unset.
    pub destination: Option<DestinationSpec>,
    /// Export options for jobs that leave them unset.
    pub export: Option<ExportSpec>,
    /// Media capture settings for jobs that leave them unset.
    pub media: Option<MediaSpec>,
}

//! Jobs and settings as the rest of chatvault uses them: validated, typed, defaults applied.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

pub use super::model::{CatchUp, Compression, ExportVersion, NotifyEvent, Overlap, WebhookFormat};
use crate::config::key::KeyTemplate;
use crate::schedule::Schedule;
use crate::store::url::StoreUrl;
use crate::store::{self, Access, Store, StoreError, StoreOptions, Uploads};

/// Stream keeps a finished export file this long.
pub const STREAM_RETENTION: TimeDelta = TimeDelta::days(60);
/// Which export endpoint a request goes to (they are polled on different routes, and the
/// name appears in keys and records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    Channels,
    Users,
}

impl ExportKind {
    /// As keys (`{kind}`), manifests and records spell it.
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Channels => "channels",
            ExportKind::Users => "users",
        }
    }
}

/// Stream takes at most this many channels in one export request, and this many user ids:
/// the planner cuts requests at it, the client refuses more.
pub const MAX_BATCH: usize = 25;

/// Everything a run needs: the global settings and every job.
#[derive(Debug, Clone)]
pub struct JobSet {
    pub settings: Settings,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The global config file, when there is one.
    pub config_file: Option<PathBuf>,
    pub api: ApiSettings,
    pub state: StoreUrl,
    pub state_options: StoreOptions,
    /// The global `signing`: the key documents are signed with, the public keys `verify`
    /// accepts.
    pub signing: SigningSettings,
    /// The legal holds of the `holds/` folder beside the global config.
    pub holds: Vec<crate::config::hold::Hold>,
}

/// Where the signing key comes from and which public keys verify. The key is read when a
/// command needs it (as the API secret is), never kept in the loaded config.
#[derive(Debug, Clone, Default)]
pub struct SigningSettings {
    /// `signing.key` (PEM text, from `${VAR}`) or `signing.key_file`; none: nothing is signed.
    pub key: Option<SecretSource>,
    /// `signing.public_key_files`, resolved against the config's folder.
    pub public_key_files: Vec<PathBuf>,
}

#[derive(Clone)]
pub struct ApiSettings {
    pub key: Option<String>,
    pub secret: Option<SecretSource>,
    pub base_url: String,
}

/// Never printed: `Debug` shows where the secret comes from, not what it is.
#[derive(Clone)]
pub enum SecretSource {
    Value(String),
    File(PathBuf),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            SecretSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("key", &self.key)
            .field("secret", &self.secret)
            .field("base_url", &self.base_url)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub description: Option<String>,
    /// The job file, as it was named on the command line.
    pub file: PathBuf,
    pub schedule: Schedule,
    pub timezone: Tz,
    pub catch_up: CatchUp,
    pub overlap: Overlap,
    pub window: Window,
    pub channels: ChannelSet,
    pub users: Vec<String>,
    pub export: ExportOptions,
    pub destination: Destination,
    pub retention: Retention,
    /// How long archives are kept; `None`: forever.
    pub keep_for: Option<KeepFor>,
    pub notify: Notify,
    pub media: MediaSettings,
}

/// The hosts Stream's CDN serves files from, as `media.hosts` defaults to.
pub const STREAM_MEDIA_HOSTS: &[&str] = &["*.stream-io-cdn.com", "stream-chat-*.imgix.net"];

/// Stream's upload limit, and so the default `media.max_file_size`.
pub const DEFAULT_MAX_MEDIA_SIZE: u64 = 100 * 1024 * 1024;

/// Where captured files go below a destination, unless `media.prefix` says otherwise: the
/// leading `_` keeps Hive-style readers out.
pub const DEFAULT_MEDIA_PREFIX: &str = "_media";

/// What a job captures of the files its messages link to (`media:`), and from where: links
/// are user input, so only hosts on the allow-list are fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// `false` keeps links only.
    pub capture: bool,
    /// Host patterns; `*` stands for one or more characters within a host name's labels.
    pub hosts: Vec<String>,
    pub allow_http: bool,
    /// Loopback, private, link-local, CGNAT and metadata addresses; for tests and labs.
    pub allow_private_addresses: bool,
    /// Bytes; a file larger than this is recorded as too large, never stored.
    pub max_file_size: u64,
    /// Files fetched at once.
    pub concurrency: usize,
    /// Below the destination's root.
    pub prefix: String,
}

impl Default for MediaSettings {
    fn default() -> MediaSettings {
        MediaSettings {
            capture: true,
            hosts: STREAM_MEDIA_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
            allow_http: false,
            allow_private_addresses: false,
            max_file_size: DEFAULT_MAX_MEDIA_SIZE,
            concurrency: 8,
            prefix: DEFAULT_MEDIA_PREFIX.to_owned(),
        }
    }
}

/// Where a job's notifications go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    pub webhooks: Vec<Webhook>,
    /// The ping URL with `{job}` still in it.
    pub ping: Option<SecretUrl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: SecretUrl,
    pub format: WebhookFormat,
    pub on: Vec<NotifyEvent>,
}

/// A URL that is a credential (webhooks, ping URLs carry their key in the path or query):
/// printed only as scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// `text` must be an http(s) URL (checked by the caller, where errors can be placed).
    pub fn new(text: String) -> SecretUrl {
        SecretUrl(text)
    }

    /// The URL itself: only for sending, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(u) => write!(f, "{}://{}/…", u.scheme(), u.host_str().unwrap_or("")),
            Err(_) => f.write_str("<url>"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// From the watermark (or `start`, on the very first run) to the tick minus `lag`.
    Incremental {
        lag: TimeDelta,
        max: Option<TimeDelta>,
        start: Option<DateTime<Utc>>,
    },
    /// The `last` stretch ending at the tick minus `lag`.
    Rolling {
        last: TimeDelta,
        lag: TimeDelta,
        max: Option<TimeDelta>,
    },
    /// One absolute window, archived once.
    Fixed {
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        max: Option<TimeDelta>,
    },
}

impl Window {
    pub fn max(&self) -> Option<TimeDelta> {
        match self {
            Window::Incremental { max, .. }
            | Window::Rolling { max, .. }
            | Window::Fixed { max, .. } => *max,
        }
    }
}

/// A channel id with its type; Stream writes it `type:id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cid {
    pub channel_type: String,
    pub id: String,
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.channel_type, self.id)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelSet {
    /// Listed channels, sorted, each once.
    pub cids: Vec<Cid>,
    /// Resolved through query-channels at run time; channels already listed are not repeated.
    pub filters: Vec<ChannelFilter>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelFilter {
    pub channel_type: String,
    pub filter: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    pub version: ExportVersion,
    pub include_truncated_messages: bool,
    pub include_soft_deleted_channels: bool,
    pub clear_deleted_message_text: bool,
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub url: StoreUrl,
    /// Never printed: values may be credentials.
    pub options: StoreOptions,
    pub key: KeyTemplate,
    pub compression: Compression,
    /// Write-once (`destination.immutable`): uploads carry a SHA-256 checksum, and anything
    /// that would delete there (expiry, erasure) must be refused for this destination.
    pub immutable: bool,
}

impl Destination {
    /// Opens the destination to write archives and media into.
    pub fn open_to_write(&self, env: &[(String, String)]) -> Result<Store, StoreError> {
        store::open_with(&self.url, &self.options, env, Access::Write, self.uploads())
    }

    /// Opens the destination for a reading command; what it adds there (catalog records,
    /// captured files) goes up as to a run's.
    pub fn open_to_read(&self, env: &[(String, String)]) -> Result<Store, StoreError> {
        store::open_with(&self.url, &self.options, env, Access::Read, self.uploads())
    }

    fn uploads(&self) -> Uploads {
        if self.immutable {
            Uploads::Checksummed
        } else {
            Uploads::Plain
        }
    }

    /// The archive file extension, e.g. `jsonl.gz`: v1 is one JSON document, v2 JSON Lines.
    pub fn extension(&self, version: ExportVersion) -> String {
        let base = match version {
            ExportVersion::V1 => "json",
            ExportVersion::V2 => "jsonl",
        };
        match self.compression {
            Compression::None => base.to_owned(),
            Compression::Gzip => format!("{base}.gz"),
            Compression::Zstd => format!("{base}.zst"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Flag an unfinished export this long before Stream's 60 days run out.
    pub warn_before: TimeDelta,
}

impl Retention {
    /// Whether a file Stream deletes at `lapses_at` is close enough to flag at `now`.
    pub fn at_risk(&self, lapses_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        lapses_at - self.warn_before <= now
    }
}

/// A job's `keep_for`: calendar years, then days. Years are counted on the calendar (the same
/// date that many years earlier; from a 29 February, the 28th), so a 7-year schedule does not
/// drift by the leap days in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepFor {
    pub years: u32,
    pub days: u32,
}

impl KeepFor {
    /// Reads `7y`, `30d` or `1y30d`: years before days, each at most once, together longer
    /// than zero.
    pub fn parse(text: &str) -> Result<KeepFor, String> {
        let refuse = || {
            format!("`{text}` is not a keep_for: expected years and/or days, e.g. 7y, 30d or 1y30d")
        };
        let mut keep = KeepFor { years: 0, days: 0 };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(refuse());
        }
        let mut seen_days = false;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (number, after) = rest.split_at(digits);
            let n: u32 = number.parse().map_err(|_| refuse())?;
            let mut unit = after.chars();
            match unit.next() {
                Some('y') if !seen_days && keep.years == 0 => keep.years = n,
                Some('d') if !seen_days => {
                    keep.days = n;
                    seen_days = true;
                }
                _ => return Err(refuse()),
            }
            rest = unit.as_str();
        }
        if keep.years == 0 && keep.days == 0 {
            return Err(format!(
                "`{text}` keeps nothing: keep_for must be longer than zero"
            ));
        }
        if keep.years > 1000 || keep.days > 366_000 {
            return Err(format!(
                "`{text}` is longer than chatvault can count (at most 1000y)"
            ));
        }
        Ok(keep)
    }

    /// The time `keep_for` before `now`: archives that ended before it are past retention.
    /// `None` when that lies before the calendar chrono knows (nothing is that old).
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_sub_months(chrono::Months::new(self.years.checked_mul(12)?))?
            .checked_sub_signed(TimeDelta::days(i64::from(self.days)))
    }
}

impl fmt::Display for KeepFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.years > 0 {
            write!(f, "{}y", self.years)?;
        }
        if self.days > 0 {
            write!(f, "{}d", self.days)?;
        }
        Ok(())
    }
}

impl fmt::Display for ExportVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportVersion::V1 => "v1",
            ExportVersion::V2 => "v2",
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CatchUp::Latest => "latest",
            CatchUp::All => "all",
            CatchUp::None => "none",
        })
    }
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
        })
    }
}

#[cfg(test)]
mod keep_for_tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    #[test]
    fn keep_for_reads_years_days_and_both_and_refuses_anything_else() {
        assert_eq!(KeepFor::parse("7y"), Ok(KeepFor { years: 7, days: 0 }));
        assert_eq!(KeepFor::parse("30d"), Ok(KeepFor { years: 0, days: 30 }));
        assert_eq!(KeepFor::parse("1y30d"), Ok(KeepFor { years: 1, days: 30 }));
        for bad in [
            "", "7", "y", "30d1y", "7y7y", "7 years", "0d", "0y0d", "-1d", "7w", "1.5y",
        ] {
            assert!(KeepFor::parse(bad).is_err(), "{bad:?} was taken");
        }
        assert_eq!(
            KeepFor::parse("1y30d").map(|k| k.to_string()),
            Ok("1y30d".into())
        );
    }

    #[test]
    fn years_are_calendar_years_and_a_29_february_falls_back_to_the_28th() {
        let seven = KeepFor { years: 7, days: 0 };
        assert_eq!(
            seven.cutoff(at("2026-12-08T03:00:00Z")),
            Some(at("2019-12-08T03:00:00Z"))
        );
        let one = KeepFor { years: 1, days: 1 };
        assert_eq!(
            one.cutoff(at("2028-02-29T00:00:00Z")),
            Some(at("2027-02-27T00:00:00Z"))
        );
        let huge = KeepFor {
            years: 1000,
            days: 0,
        };
        assert!(huge.cutoff(at("2026-01-01T00:00:00Z")).is_some());
    }
}

//! What an emulator is started with.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::clock::ClockMode;
use crate::endpoint::Endpoint;

/// Everything an [`Emulator`](crate::Emulator) is started with. `Default` gives a small,
/// deterministic set-up on a manual clock, suited to tests.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The app's API key: requests must send it as the `api_key` query parameter.
    pub api_key: String,
    /// The app's API secret: tokens must be HS256-signed with it.
    pub api_secret: String,
    /// The seeded data set.
    pub data: DataSpec,
    /// How long a task stays in each state, on the emulator clock.
    pub task_durations: TaskDurations,
    /// Per-endpoint rate limits.
    pub limits: RateLimits,
    /// The most channels one `POST /export_channels` may name (Stream documents 25).
    pub max_channels_per_export: usize,
    /// The clock's initial time; the data set's history ends here.
    pub start_time: DateTime<Utc>,
    /// Whether the clock stands still (tests) or follows real time (the binary, demos).
    pub clock: ClockMode,
    /// How long a task and its file are kept; older tasks answer 404 (Stream: 60 days).
    pub retention: Duration,
    /// How long a download URL is valid after it is minted (Stream: 24 hours).
    pub url_ttl: Duration,
    /// Send an exact `Content-Length` with downloads (and serve `Range` requests), as S3 does.
    /// The size costs one extra generation pass (into a byte counter, so no memory) on a
    /// task's first download; with `false` files are sent chunked and `Range` is ignored.
    pub exact_content_length: bool,
    /// Whether the 404 (code 16) refusing an export of a channel that does not exist names
    /// it: `Can't find channel with cid messaging:x` (`true`, the default) or only `Can't
    /// find channel`. stream-chat-python's `test_export_channel_status` matches no more than
    /// `Can't find channel`, so what follows is not known.
    pub name_missing_channel: bool,
    /// What `POST /export/users` does with a user id the app does not have. No SDK's tests
    /// (Go, Python, JS, Ruby, PHP, .NET, Java, stream-py) ever export an unknown id, and the
    /// docs do not say, so each answer can be chosen; the default accepts it and the file
    /// holds nothing for that user.
    pub unknown_users: UnknownUsers,
    /// Where the signed media links of the data set point (`<cdn_base>/cdn/<path>?…`), without a
    /// trailing slash. `None` (the default): the emulator's own address with the host
    /// `localhost` instead of `127.0.0.1`, so a test can allow the host name `localhost` while a
    /// literal `127.0.0.1` link counts as another host.
    pub cdn_base: Option<String>,
    /// How long a signed media link lives (Stream: 14 days). A link in an export expires this
    /// long after its message was posted (an avatar's or channel image's, after the start
    /// time); a refreshed link, this long after the refresh.
    pub link_lifetime: Duration,
    /// The site Open Graph previews point at: a host no allow-list of Stream's CDN admits.
    pub foreign_base: String,
}

/// How a users export treats ids the app does not have (see
/// [`EmulatorConfig::unknown_users`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownUsers {
    /// The task is created; the export file holds nothing for that user.
    #[default]
    Accept,
    /// 404, code 16, `Can't find user with id <id>`.
    RefuseNaming,
    /// 404, code 16, `Can't find user`.
    RefuseWithoutNaming,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: "emulator-key".to_owned(),
            api_secret: "emulator-secret".to_owned(),
            data: DataSpec::default(),
            task_durations: TaskDurations::default(),
            limits: RateLimits::default(),
            max_channels_per_export: 25,
            start_time: Utc
                .with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
            clock: ClockMode::Manual,
            retention: Duration::days(60),
            url_ttl: Duration::hours(24),
            exact_content_length: true,
            name_missing_channel: true,
            unknown_users: UnknownUsers::Accept,
            cdn_base: None,
            link_lifetime: Duration::days(14),
            foreign_base: "https://example.com".to_owned(),
        }
    }
}

/// The size and shape of the seeded data set. Channels come in three types (`messaging`,
/// `team` with a `team` custom field, `livestream`); messages are spread evenly over
/// `days_of_history` days before the start time and keep arriving at the same rate as the
/// clock moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSpec {
    /// Seeds everything random: timestamps, texts, authors, reactions, task IDs, fault draws.
    pub seed: u64,
    /// Channels of each type.
    pub channels_per_type: usize,
    /// Messages per channel per day (at least 1).
    pub messages_per_channel_per_day: u64,
    /// Days of history before the start time.
    pub days_of_history: u32,
    /// Users in the app.
    pub users: usize,
    /// Members of each channel (at most `users`).
    pub members_per_channel: usize,
    /// The last this many channels of each type are soft-deleted, two thirds into the history.
    pub soft_deleted_per_type: usize,
    /// The first this many channels of each type were truncated a third into the history.
    pub truncated_per_type: usize,
    /// About one message in this many is a thread reply (`parent_id` set) to the nearest
    /// earlier message of its channel that is not a reply, when that one was posted the same
    /// UTC day (otherwise it stays a channel message). 0 (the default) or 1: no replies, so
    /// data sets of tests written before threads are unchanged.
    pub reply_every: u64,
    /// About one message in this many carries, instead of its words, a text a viewer must
    /// show as text (markup, a script, an escaped entity: [`HOSTILE_TEXTS`](crate::HOSTILE_TEXTS)).
    /// 0 (the default): none.
    pub hostile_every: u64,
    /// About one message in this many gets a thread parent no tidy export has: by turns the
    /// message just before it (a reply to a reply, or a chain where such draws follow each
    /// other), itself, an id no message has, or, with the one or two messages after it, a
    /// loop. It replaces a `reply_every` parent; `reply_count` counts `reply_every`'s replies
    /// only. 0 (the default): none.
    pub tangle_every: u64,
    /// About one message in this many is exported without `created_at`. 0 (the default): none.
    pub undated_every: u64,
    /// About one message in this many ends its text with a right-to-left override (U+202E)
    /// and a reversed file name, and carries an attachment named the same way, so that
    /// `\u{202E}gnp.exe` shows as `exe.png` wherever it is not neutralised. 0 (the default):
    /// none.
    pub bidi_every: u64,
    /// Every this many messages of a channel carries a media attachment, by turns an image
    /// (PNG, JPEG, GIF, WebP), a PDF, a video (with a JPEG thumbnail), audio, a voice
    /// recording, an SVG with a script inside, a file of `large_file_size`, an Open Graph
    /// preview of a page on `foreign_base`, the one file many messages share and the one file
    /// deleted from the CDN. 0 (the default): none, and the data set is as before media.
    pub media_every: u64,
    /// The size of the large file (default 2 MiB): above a capture limit of 1 MiB.
    pub large_file_size: u64,
    /// With a value, every media attachment is an ordinary file (no SVG, large, preview, shared
    /// or deleted ones) and attachments reuse this many distinct files by turns, for the
    /// benchmark. 0 (the default): the rotation above.
    pub media_distinct: u64,
    /// The sizes of ordinary media files, `(min, max)` bytes, drawn log-uniformly per file
    /// (the mean is about `(max - min) / ln(max / min)`). `None` (the default): a few KiB to a
    /// hundred KiB by kind, so tests stay quick.
    pub media_sizes: Option<(u64, u64)>,
    /// Users carry `image` (a signed CDN link to an avatar) wherever a user object appears, and
    /// channels carry `image`. Off by default.
    pub avatars: bool,
}

impl Default for DataSpec {
    fn default() -> Self {
        Self {
            seed: 42,
            channels_per_type: 3,
            messages_per_channel_per_day: 24,
            days_of_history: 30,
            users: 20,
            members_per_channel: 5,
            soft_deleted_per_type: 1,
            truncated_per_type: 1,
            reply_every: 0,
            hostile_every: 0,
            tangle_every: 0,
            undated_every: 0,
            bidi_every: 0,
            media_every: 0,
            large_file_size: 2 * 1024 * 1024,
            media_distinct: 0,
            media_sizes: None,
            avatars: false,
        }
    }
}

/// How long a task spends in each state before the next, on the emulator clock:
/// `waiting` → `pending` → `running` → `completed` (or `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDurations {
    /// Time in `waiting`, from creation.
    pub waiting: Duration,
    /// Time in `pending`.
    pub pending: Duration,
    /// Time in `running`; then the task is `completed` (or `failed`).
    pub running: Duration,
}

impl Default for TaskDurations {
    fn default() -> Self {
        Self {
            waiting: Duration::seconds(2),
            pending: Duration::seconds(3),
            running: Duration::seconds(5),
        }
    }
}

impl TaskDurations {
    /// From creation to the end state.
    pub fn total(&self) -> Duration {
        [self.pending, self.running]
            .into_iter()
            .try_fold(self.waiting, |sum, d| sum.checked_add(&d))
            .unwrap_or(Duration::MAX)
    }
}

/// Requests allowed per endpoint per one-minute window (windows start on whole minutes of the
/// emulator clock). Stream documents 60/min for the two export calls; it gives no figure for
/// the status calls, so the emulator assumes 600/min for them, for query channels and for the
/// quota lookup itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /export_channels` (Stream: 60).
    pub export_channels: u32,
    /// `POST /export/users` (Stream: 60).
    pub export_users: u32,
    /// `GET /export_channels/{id}` (assumed 600).
    pub get_export_channels_status: u32,
    /// `GET /tasks/{id}` (assumed 600).
    pub get_task: u32,
    /// `POST /channels` (assumed 600).
    pub query_channels: u32,
    /// `GET /rate_limits` (assumed 600).
    pub get_rate_limits: u32,
    /// `GET /messages/{id}` (assumed 600).
    pub get_message: u32,
    /// `GET /users` (query users; assumed 600).
    pub query_users: u32,
    /// Also allow at most `limit / 30` (at least 1) requests per second of the emulator clock,
    /// as Stream documents. Off by default: on a manual clock it would cap a test at a few calls
    /// per endpoint until the clock moves.
    pub burst: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            export_channels: 60,
            export_users: 60,
            get_export_channels_status: 600,
            get_task: 600,
            query_channels: 600,
            get_rate_limits: 600,
            get_message: 600,
            query_users: 600,
            burst: false,
        }
    }
}

impl RateLimits {
    /// The per-minute limit of an API endpoint; `None` for the file download and the CDN, which
    /// (like S3 and CloudFront) have no Stream rate limit.
    pub fn per_minute(&self, endpoint: Endpoint) -> Option<u32> {
        match endpoint {
            Endpoint::ExportChannels => Some(self.export_channels),
            Endpoint::GetExportChannelsStatus => Some(self.get_export_channels_status),
            Endpoint::ExportUsers => Some(self.export_users),
            Endpoint::GetTask => Some(self.get_task),
            Endpoint::QueryChannels => Some(self.query_channels),
            Endpoint::GetRateLimits => Some(self.get_rate_limits),
            Endpoint::GetMessage => Some(self.get_message),
            Endpoint::QueryUsers => Some(self.query_users),
            Endpoint::DownloadExport | Endpoint::CdnFile => None,
        }
    }
}

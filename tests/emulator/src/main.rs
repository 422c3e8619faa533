//! `chatvault-emulator`: runs the Stream export API emulator until interrupted. Prints one line,
//! `listening on http://127.0.0.1:PORT`, once it accepts connections.

use std::process::ExitCode;

use chatvault_emulator::{
    ClockMode, DataSpec, Emulator, EmulatorConfig, RateLimits, TaskDurations,
};
use chrono::{DateTime, Duration, Utc};
use clap::{Parser, ValueEnum};

#[derive(Parser)]
#[command(
    version,
    about = "A local emulator of Stream Chat's server-side export API"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The API key clients must send.
    #[arg(
        long,
        env = "CHATVAULT_EMULATOR_API_KEY",
        default_value = "emulator-key"
    )]
    api_key: String,
    /// The API secret tokens must be signed with.
    #[arg(
        long,
        env = "CHATVAULT_EMULATOR_API_SECRET",
        default_value = "emulator-secret",
        hide_env_values = true
    )]
    api_secret: String,
    /// Seeds the data set, task IDs and fault draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Channels of each type (messaging, team, livestream).
    #[arg(long, default_value_t = 3)]
    channels_per_type: usize,
    /// Messages per channel per day.
    #[arg(long, default_value_t = 24)]
    messages_per_day: u64,
    /// Days of history before the start time.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Users in the app.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Members per channel.
    #[arg(long, default_value_t = 5)]
    members_per_channel: usize,
    /// Soft-deleted channels per type (the last ones).
    #[arg(long, default_value_t = 1)]
    soft_deleted_per_type: usize,
    /// Truncated channels per type (the first ones).
    #[arg(long, default_value_t = 1)]
    truncated_per_type: usize,
    /// About one message in N is a thread reply to an earlier message of its channel posted the
    /// same day (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    replies_every: u64,
    /// About one message in N has, instead of words, a text a viewer must show as text: markup,
    /// a script, an escaped entity (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    hostile_every: u64,
    /// About one message in N has a thread parent a tidy export never has: the message before
    /// it (a reply to a reply), itself, an id no message has, or a loop (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    tangles_every: u64,
    /// About one message in N is exported without created_at (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    undated_every: u64,
    /// About one message in N carries a right-to-left override (U+202E) in its text and in an
    /// attachment's name (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    bidi_every: u64,
    /// Every N-th message of a channel carries a media attachment (images, a PDF, video,
    /// audio, a voice recording, an SVG with a script, a large file, an Open Graph preview of
    /// another site, a file many messages share, a file deleted from the CDN; 0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    media_every: u64,
    /// Users and channels carry `image`, a signed CDN link.
    #[arg(long)]
    avatars: bool,
    /// Where media links point, e.g. http://localhost:8080 (default: this emulator, with the
    /// host localhost).
    #[arg(long, value_name = "URL")]
    cdn_base: Option<String>,
    /// The site Open Graph previews point at (a host not on a CDN allow-list).
    #[arg(long, value_name = "URL", default_value = "https://example.com")]
    foreign_base: String,
    /// How long a signed media link lives: a number with s, m, h or d.
    #[arg(long, value_name = "DURATION", default_value = "14d", value_parser = parse_duration)]
    link_lifetime: Duration,
    /// The size of the large file: bytes, or a number with KiB, MiB or GiB.
    #[arg(long, value_name = "SIZE", default_value = "2MiB", value_parser = parse_size)]
    large_file_size: u64,
    /// Media attachments are ordinary files only and reuse N distinct files by turns (the
    /// benchmark; 0: the usual mix).
    #[arg(long, value_name = "N", default_value_t = 0)]
    media_distinct: u64,
    /// The sizes of ordinary media files, MIN..MAX (e.g. 50KiB..20MiB), drawn log-uniformly.
    #[arg(long, value_name = "MIN..MAX", value_parser = parse_size_range)]
    media_sizes: Option<(u64, u64)>,
    /// Seconds a task waits before it is pending.
    #[arg(long, default_value_t = 2)]
    waiting_secs: i64,
    /// Seconds a task is pending before it runs.
    #[arg(long, default_value_t = 3)]
    pending_secs: i64,
    /// Seconds a task runs before it completes.
    #[arg(long, default_value_t = 5)]
    running_secs: i64,
    /// Most channels per export request.
    #[arg(long, default_value_t = 25)]
    max_channels_per_export: usize,
    /// Also enforce the per-second burst limit (limit / 30).
    #[arg(long)]
    burst_limits: bool,
    /// `real` follows wall-clock time; `manual` stands still until moved through
    /// `POST /_emulator/clock/advance`.
    #[arg(long, value_enum, default_value_t = Clock::Real)]
    clock: Clock,
    /// The clock's start time (RFC 3339); the history ends here. Default: now.
    #[arg(long)]
    start_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Clock {
    Real,
    Manual,
}

impl Args {
    fn config(self) -> EmulatorConfig {
        EmulatorConfig {
            api_key: self.api_key,
            api_secret: self.api_secret,
            data: DataSpec {
                seed: self.seed,
                channels_per_type: self.channels_per_type,
                messages_per_channel_per_day: self.messages_per_day,
                days_of_history: self.days,
                users: self.users,
                members_per_channel: self.members_per_channel,
                soft_deleted_per_type: self.soft_deleted_per_type,
                truncated_per_type: self.truncated_per_type,
                reply_every: self.replies_every,
                hostile_every: self.hostile_every,
                tangle_every: self.tangles_every,
                undated_every: self.undated_every,
                bidi_every: self.bidi_every,
                media_every: self.media_every,
                large_file_size: self.large_file_size,
                media_distinct: self.media_distinct,
                media_sizes: self.media_sizes,
                avatars: self.avatars,
            },
            cdn_base: self.cdn_base,
            foreign_base: self.foreign_base,
            link_lifetime: self.link_lifetime,
            task_durations: TaskDurations {
                waiting: Duration::seconds(self.waiting_secs),
                pending: Duration::seconds(self.pending_secs),
                running: Duration::seconds(self.running_secs),
            },
            limits: RateLimits {
                burst: self.burst_limits,
                ..RateLimits::default()
            },
            max_channels_per_export: self.max_channels_per_export,
            start_time: self.start_time.unwrap_or_else(Utc::now),
            clock: match self.clock {
                Clock::Real => ClockMode::RealTime,
                Clock::Manual => ClockMode::Manual,
            },
            ..EmulatorConfig::default()
        }
    }
}

/// `14d`, `36h`, `90m`, `600s` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 14d, 36h, 90m or 600s"))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    };
    seconds
        .and_then(Duration::try_seconds)
        .ok_or_else(|| format!("{text:?} is not a duration like 14d, 36h, 90m or 600s"))
}

/// `2MiB`, `50KiB`, `1GiB` or a bare number of bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?} is not a size like 2MiB, 50KiB or 1000"))
}

/// `MIN..MAX`, two sizes, MIN at most MAX.
fn parse_size_range(text: &str) -> Result<(u64, u64), String> {
    let (min, max) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not a range like 50KiB..20MiB"))?;
    let (min, max) = (parse_size(min)?, parse_size(max)?);
    if min == 0 || min > max {
        return Err(format!(
            "{text:?}: the smallest size must be above 0 and at most the largest"
        ));
    }
    Ok((min, max))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let port = args.port;
    let emulator = match Emulator::start_on_port(args.config(), port).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("chatvault-emulator: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", emulator.base_url());
    let interrupted = tokio::signal::ctrl_c().await;
    emulator.shutdown().await;
    match interrupted {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chatvault-emulator: cannot wait for Ctrl-C: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_sizes_and_ranges_parse_with_their_units() {
        assert_eq!(parse_duration("14d"), Ok(Duration::days(14)));
        assert_eq!(parse_duration("36h"), Ok(Duration::hours(36)));
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("600"), Ok(Duration::seconds(600)));
        for bad in ["", "d", "14w", "-1d", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("50KiB"), Ok(50 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        for bad in ["", "MiB", "2MB", "1.5MiB", "99999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size_range("50KiB..20MiB"), Ok((50 << 10, 20 << 20)));
        for bad in ["50KiB", "2MiB..1MiB", "0..5", "a..b"] {
            assert!(parse_size_range(bad).is_err(), "{bad}");
        }
    }
}

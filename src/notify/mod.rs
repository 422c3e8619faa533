//! Notifications: webhooks on failure, recovery, lapse risk and members Stream does not have
//! (`missing`), and a dead man's switch ping
//! per run. They are sent in the background with a few retries; a notification that cannot be
//! delivered is logged and never holds up or fails a run.

mod message;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use message::Message;

use crate::clock::SharedClock;
use crate::config::job::{ExportKind, Job, Notify, STREAM_RETENTION};
use crate::config::model::NotifyEvent;
use crate::retry::{Next, RetryPolicy};
use crate::runner::{Event, Reporter, TickOutcome, one_line};

/// Three attempts per notification, the waits between them jittered below 1 s, then 2 s.
const DELIVERY_RETRY: RetryPolicy =
    RetryPolicy::new(3, Duration::from_secs(1), Duration::from_secs(2));
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an end ping waits for its run's start ping to be delivered: well within the 15 s
/// an exiting process gives its notifications.
const START_WAIT: Duration = Duration::from_secs(5);

/// The notifier's HTTP client could not be built (no TLS backend, say).
#[derive(Debug, Error)]
#[error("cannot build the notification client: {0}")]
pub struct ClientError(#[source] reqwest::Error);

/// One request to make.
struct Send {
    url: String,
    /// Shown in logs instead of the URL.
    shown: String,
    body: Body,
    /// Named in its span: it is delivered in the background, after the run may be over.
    job: String,
    event: &'static str,
    run_id: String,
}

enum Body {
    Json(serde_json::Value),
    Text(String),
}

pub struct Notifier {
    http: reqwest::Client,
    clock: SharedClock,
    jobs: Mutex<HashMap<String, Notify>>,
    /// Start pings on their way, by run id. A run's end ping waits for its start ping, so a
    /// checker never hears `/fail` before the `/start` of the same run (which would read as a
    /// run still going).
    starts: Mutex<HashMap<String, JoinHandle<()>>>,
    pending: TaskTracker,
}

impl Notifier {
    pub fn new(clock: SharedClock, jobs: &[Job]) -> Result<Notifier, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("chatvault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)?;
        let notifier = Notifier {
            http,
            clock,
            jobs: Mutex::new(HashMap::new()),
            starts: Mutex::new(HashMap::new()),
            pending: TaskTracker::new(),
        };
        notifier.set_jobs(jobs);
        Ok(notifier)
    }

    /// Takes the jobs' `notify` settings (again, after a reload).
    pub fn set_jobs(&self, jobs: &[Job]) {
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = jobs
            .iter()
            .map(|j| (j.name.clone(), j.notify.clone()))
            .collect();
    }

    /// Waits up to `within` for notifications still being sent (before the process exits).
    pub async fn flush(&self, within: Duration) {
        self.pending.close();
        if tokio::time::timeout(within, self.pending.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.pending.len(),
                "gave up waiting for notifications to be delivered"
            );
        }
    }

    fn settings(&self, job: &str) -> Option<Notify> {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(job)
            .cloned()
    }

    fn ping(&self, job: &str, run_id: &str, event: Ping, text: String) {
        // Taken first, even when no ping is set any more (a reload in the middle of the run).
        let after = match event {
            Ping::Start => None,
            Ping::Success | Ping::Fail => self.start_of(run_id),
        };
        let Some(ping) = self.settings(job).and_then(|n| n.ping) else {
            return;
        };
        let url = format!("{}{}", ping.expose().replace("{job}", job), event.suffix());
        let sending = self.send(
            Send {
                shown: format!("ping {ping}"),
                url,
                body: Body::Text(text),
                job: job.to_owned(),
                event: event.name(),
                run_id: run_id.to_owned(),
            },
            after,
        );
        if let (Some(sending), Ping::Start) = (sending, event) {
            self.starts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(run_id.to_owned(), sending);
        }
    }

    /// The run's start ping, if one is still remembered (and forgets it).
    fn start_of(&self, run_id: &str) -> Option<JoinHandle<()>> {
        self.starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(run_id)
    }

    fn webhooks(&self, message: &Message) {
        let Some(notify) = self.settings(&message.job) else {
            return;
        };
        for hook in notify
            .webhooks
            .iter()
            .filter(|h| h.on.contains(&message.event))
        {
            self.send(
                Send {
                    url: hook.url.expose().to_owned(),
                    shown: format!("webhook {}", hook.url),
                    body: Body::Json(message.body(hook.format)),
                    job: message.job.clone(),
                    event: event_name(message.event),
                    run_id: message.run_id.clone(),
                },
                None,
            );
        }
    }

    /// Delivers in the background, once `after` (another delivery) is done.
    fn send(&self, send: Send, after: Option<JoinHandle<()>>) -> Option<JoinHandle<()>> {
        // Inside the run's span when a run raised it, so its lines carry the run's fields too;
        // its own fields name the notification, which may go out after the run is over.
        let span = tracing::error_span!(
            "notification",
            job = %send.job,
            event = send.event,
            run_id = %send.run_id,
            to = %send.shown,
        );
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            span.in_scope(|| tracing::warn!("notification dropped: no async runtime"));
            return None;
        };
        let http = self.http.clone();
        let clock = self.clock.clone();
        let delivery = async move {
            if let Some(before) = after {
                // However that one ends, this one goes out; and soon enough that an exiting
                // `run --once` still sends it (a dead receiver holds a start ping 33 s).
                let _ = tokio::time::timeout(START_WAIT, before).await;
            }
            deliver(http, clock, send).await;
        };
        Some(self.pending.spawn_on(delivery.instrument(span), &runtime))
    }
}

impl Reporter for Notifier {
    fn event(&self, event: &Event) {
        match event {
            Event::TickStarted { job, run_id, .. } => {
                self.ping(job, run_id, Ping::Start, format!("run {run_id} started"));
            }
            Event::TickFinished {
                job,
                tick,
                run_id,
                outcome,
                recovered,
            } => match outcome {
                TickOutcome::Done {
                    archives,
                    bytes_stored,
                    warnings,
                    media_outstanding,
                    ..
                } => {
                    self.ping(
                        job,
                        run_id,
                        Ping::Success,
                        format!("run {run_id}: {archives} archive(s), {bytes_stored} bytes"),
                    );
                    if !warnings.is_empty() {
                        let mut m = Message::new(NotifyEvent::Incomplete, job, *tick, run_id);
                        m.summary = format!(
                            "{job}: the run of tick {tick} archived everything it could, but: {}",
                            warnings.join("; ")
                        );
                        m.warnings.clone_from(warnings);
                        m.media_outstanding =
                            (*media_outstanding > 0).then_some(*media_outstanding);
                        self.webhooks(&m);
                    }
                    if *recovered {
                        let mut m = Message::new(NotifyEvent::Recovery, job, *tick, run_id);
                        m.summary = format!(
                            "{job} recovered: the run of tick {tick} succeeded after a failed one \
                             ({archives} archive(s), {bytes_stored} bytes)"
                        );
                        m.archives = Some(*archives);
                        m.bytes_stored = Some(*bytes_stored);
                        self.webhooks(&m);
                    }
                }
                TickOutcome::Failed { error } => {
                    let error_ref = error;
                    let error = one_line(error);
                    self.ping(
                        job,
                        run_id,
                        Ping::Fail,
                        format!("run {run_id} failed: {error}"),
                    );
                    let mut m = Message::new(NotifyEvent::Failure, job, *tick, run_id);
                    m.summary = format!("{job}: the run of tick {tick} failed: {error}");
                    m.error = Some(error);
                    m.hint = error_ref.hint().map(str::to_owned);
                    self.webhooks(&m);
                }
                TickOutcome::AlreadyDone | TickOutcome::Busy { .. } | TickOutcome::Interrupted => {
                    // No end ping follows: nothing is to wait for the start ping.
                    self.start_of(run_id);
                }
            },
            Event::LapseRisk {
                batch,
                task_id,
                created_at,
                days_left,
            } => {
                let mut m = Message::new(
                    NotifyEvent::LapseRisk,
                    &batch.job,
                    batch.tick,
                    &batch.run_id,
                );
                let lapses_at = *created_at + STREAM_RETENTION;
                m.summary = format!(
                    "{}: export task {task_id} ({}) is unfinished and Stream deletes its file at \
                     {lapses_at} ({days_left} day(s) left)",
                    batch.job, batch.key
                );
                m.task_id = Some(task_id.clone());
                m.lapses_at = Some(lapses_at);
                m.days_left = Some(*days_left);
                self.webhooks(&m);
            }
            Event::Missing { batch, ids } => {
                let mut m =
                    Message::new(NotifyEvent::Missing, &batch.job, batch.tick, &batch.run_id);
                let what = match batch.kind {
                    ExportKind::Channels => {
                        m.missing_channels = Some(ids.clone());
                        "channel(s)"
                    }
                    ExportKind::Users => {
                        m.missing_users = Some(ids.clone());
                        "user(s)"
                    }
                };
                m.summary = format!(
                    "{}: Stream does not have {what} {}; {} was exported without them (a \
                     deleted channel or user, or a typo in the job file)",
                    batch.job,
                    ids.join(", "),
                    batch.key
                );
                m.key = Some(batch.key.clone());
                self.webhooks(&m);
            }
            Event::AlreadyArchived(_)
            | Event::Created { .. }
            | Event::Resumed { .. }
            | Event::Exported { .. }
            | Event::Transferring { .. }
            | Event::Archived { .. }
            | Event::BatchFailed { .. }
            | Event::Lapsed { .. }
            | Event::MediaRecorded { .. }
            | Event::Paused { .. } => {}
        }
    }
}

/// Why one attempt at a notification failed. Never names the URL: it is the credential.
#[derive(Debug, Error)]
enum DeliveryError {
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("{0}")]
    Transport(reqwest::Error),
}

impl DeliveryError {
    /// The receiver was busy or broken for a moment, or could not be reached.
    fn is_transient(&self) -> bool {
        match self {
            DeliveryError::Status(status) => status.is_server_error() || status.as_u16() == 429,
            DeliveryError::Transport(_) => true,
        }
    }
}

/// Sends with retries on transport errors, 429 and 5xx; logs the end result.
async fn deliver(http: reqwest::Client, clock: SharedClock, send: Send) {
    let attempt = || {
        let request = http.post(&send.url);
        let request = match &send.body {
            Body::Json(v) => request.json(v),
            Body::Text(t) => request.body(t.clone()),
        };
        async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(DeliveryError::Status(r.status())),
                Err(e) => Err(DeliveryError::Transport(e.without_url())),
            }
        }
    };
    let judge = |e: &DeliveryError, _| {
        if e.is_transient() {
            Next::Retry
        } else {
            Next::Stop
        }
    };
    match DELIVERY_RETRY.run(clock.as_ref(), attempt, judge).await {
        Ok(()) => tracing::debug!("notification delivered"),
        Err(gave_up) => {
            tracing::warn!(error = %gave_up.into_last(), "notification not delivered");
        }
    }
}

/// The dead man's switch's three calls, in the healthchecks.io style.
#[derive(Debug, Clone, Copy)]
enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    /// As logs name it.
    fn name(self) -> &'static str {
        match self {
            Ping::Start => "start",
            Ping::Success => "success",
            Ping::Fail => "fail",
        }
    }

    /// Added to the ping URL: a bare request means success.
    fn suffix(self) -> &'static str {
        match self {
            Ping::Start => "/start",
            Ping::Success => "",
            Ping::Fail => "/fail",
        }
    }
}

/// As job files name it (`notify.webhooks[].on`).
fn event_name(event: NotifyEvent) -> &'static str {
    match event {
        NotifyEvent::Failure => "failure",
        NotifyEvent::Recovery => "recovery",
        NotifyEvent::LapseRisk => "lapse_risk",
        NotifyEvent::Missing => "missing",
        NotifyEvent::Incomplete => "incomplete",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::load::test_job;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
    }

    fn job(notify: &str) -> Job {
        let text = format!("name: pinged\nschedule: \"0 0 * * *\"\nusers: [alice]\n{notify}");
        test_job(&text)
    }

    fn starts(notifier: &Notifier) -> usize {
        notifier
            .starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    #[tokio::test]
    async fn a_start_ping_is_forgotten_when_its_run_ends_even_after_a_reload_dropped_the_ping() {
        // Nothing listens on port 9: deliveries fail at once, which is beside the point here.
        let pinged = job("notify:\n  ping: http://127.0.0.1:9/ping\n");
        let clock = Arc::new(ManualClock::new(at()));
        let notifier = Notifier::new(clock, std::slice::from_ref(&pinged)).unwrap();
        let tick = at();
        notifier.event(&Event::TickStarted {
            job: "pinged".into(),
            tick,
            run_id: "r1".into(),
            windows: 1,
            batches: 1,
        });
        assert_eq!(starts(&notifier), 1);
        notifier.set_jobs(&[job("")]);
        notifier.event(&Event::TickFinished {
            job: "pinged".into(),
            tick,
            run_id: "r1".into(),
            outcome: TickOutcome::Done {
                archives: 1,
                bytes_stored: 1,
                warnings: Vec::new(),
                missing: crate::state::Missing::default(),
                media_outstanding: 0,
            },
            recovered: false,
        });
        assert_eq!(starts(&notifier), 0, "nothing is kept for a run that ended");
    }
}

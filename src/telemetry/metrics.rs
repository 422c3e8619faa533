//! The daemon's Prometheus metrics.
//!
//! Run counts and bytes come from the runner's events as they happen. What is in flight comes
//! from each job's ledger (read at start-up and after every event that changes it), because
//! the ledger, not this process, knows what a crashed run or another replica left behind.
//! Ages and time to the 60-day lapse are computed at scrape time from the tasks' creation
//! times, so they move between runs too.
//!
//! Every per-job series exists from the moment the job is known, at 0, so an alert on "no
//! success for a day" can fire before the first run ever happens.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::api::{ANSWERS, ClientStats, Endpoint};
use crate::clock::SharedClock;
use crate::config::job::{ExportKind, STREAM_RETENTION};
use crate::runner::{Event, Reporter, TickOutcome};
use crate::state::JobState;

/// Outcome labels of `chatvault_runs_total`, all present from start-up.
const OUTCOMES: [&str; 5] = ["succeeded", "failed", "interrupted", "busy", "already_done"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    job: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MediaLabels {
    job: String,
    status: String,
}

/// Status labels of `chatvault_media_files_total`, all present from start-up.
const MEDIA_STATUSES: [&str; 6] = [
    "stored",
    "already_stored",
    "refused",
    "too_large",
    "gone",
    "failed",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    endpoint: String,
    status: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// One job as last seen.
#[derive(Debug, Default)]
struct View {
    /// Creation times of its tasks in flight, as the ledger last said.
    created: Vec<DateTime<Utc>>,
    /// The ledger version these values come from: reads race (start-up, after a change, the
    /// sweep), and one that started earlier must not put older values back.
    seq: Option<u64>,
    /// When the outcome behind `last_run_failed` finished. A run that could not read the
    /// ledger could not record its failure there either, so an older outcome read from the
    /// ledger later must not overwrite it.
    outcome_at: Option<DateTime<Utc>>,
}

pub struct Metrics {
    registry: Registry,
    clock: SharedClock,
    last_success: Family<JobLabel, FloatGauge>,
    last_run_failed: Family<JobLabel, Gauge>,
    runs: Family<RunLabels, Counter>,
    archives: Family<JobLabel, Counter>,
    bytes: Family<JobLabel, Counter>,
    missing_channels: Family<JobLabel, Counter>,
    missing_users: Family<JobLabel, Counter>,
    media_files: Family<MediaLabels, Counter>,
    media_bytes: Family<JobLabel, Counter>,
    in_flight: Family<JobLabel, Gauge>,
    oldest_age: Family<JobLabel, FloatGauge>,
    until_lapse: Family<JobLabel, FloatGauge>,
    api_requests: Family<ApiLabels, Counter>,
    rate_limit_wait: Family<EndpointLabel, Counter<f64, AtomicU64>>,
    jobs: Gauge,
    /// Per known job: what the ledger and this process's runs last said of it.
    views: Mutex<BTreeMap<String, View>>,
    /// Jobs whose ledger changed; read by [`Metrics::refresh_ledgers`].
    changed: mpsc::UnboundedSender<String>,
}

/// Jobs whose ledgers are to be read again.
pub type Changed = mpsc::UnboundedReceiver<String>;

impl Metrics {
    pub fn new(clock: SharedClock) -> (Metrics, Changed) {
        let (changed, rx) = mpsc::unbounded_channel();
        let mut m = Metrics {
            registry: Registry::with_prefix("chatvault"),
            clock,
            last_success: Family::default(),
            last_run_failed: Family::default(),
            runs: Family::default(),
            archives: Family::default(),
            bytes: Family::default(),
            missing_channels: Family::default(),
            missing_users: Family::default(),
            media_files: Family::default(),
            media_bytes: Family::default(),
            in_flight: Family::default(),
            oldest_age: Family::default(),
            until_lapse: Family::default(),
            api_requests: Family::default(),
            rate_limit_wait: Family::default(),
            jobs: Gauge::default(),
            views: Mutex::new(BTreeMap::new()),
            changed,
        };
        m.registry.register(
            "last_success_timestamp_seconds",
            "When the job's last successful run finished (Unix time; 0: none recorded)",
            m.last_success.clone(),
        );
        m.registry.register(
            "last_run_failed",
            "1 when the job's last recorded run failed",
            m.last_run_failed.clone(),
        );
        m.registry.register(
            "runs",
            "Runs of a tick by this process, by how they ended",
            m.runs.clone(),
        );
        m.registry.register(
            "archives",
            "Archives committed by this process",
            m.archives.clone(),
        );
        m.registry.register(
            "archived_bytes",
            "Bytes of archives committed by this process, as stored (after compression)",
            m.bytes.clone(),
        );
        m.registry.register(
            "missing_channels",
            "Channels this process's exports left out because Stream does not have them \
             (deleted, or misspelt in the job file), counted once per export request",
            m.missing_channels.clone(),
        );
        m.registry.register(
            "missing_users",
            "Users this process's exports left out because Stream does not know them, counted \
             once per export request",
            m.missing_users.clone(),
        );
        m.registry.register(
            "media_files",
            "References to files (attachments, avatars, channel images) this process decided, \
             by what became of them (stored, already_stored, refused, too_large, gone, failed; \
             a failed one is retried by a later run)",
            m.media_files.clone(),
        );
        m.registry.register(
            "media_bytes",
            "Bytes of files this process stored in the media prefix (a file already stored is \
             not counted again)",
            m.media_bytes.clone(),
        );
        m.registry.register(
            "export_tasks_in_flight",
            "Export tasks created at Stream and not archived yet",
            m.in_flight.clone(),
        );
        m.registry.register(
            "oldest_export_task_age_seconds",
            "Age of the oldest export task in flight (0: none)",
            m.oldest_age.clone(),
        );
        m.registry.register(
            "export_lapse_seconds",
            "Seconds until Stream deletes the oldest in-flight task's file (60 days after it \
             was created); 60 days when nothing is in flight",
            m.until_lapse.clone(),
        );
        m.registry.register(
            "api_requests",
            "Stream API requests by endpoint and status class (2xx, 4xx, 429, 5xx; transport: \
             no answer)",
            m.api_requests.clone(),
        );
        m.registry.register(
            "rate_limit_wait_seconds",
            "Time requests waited for a slot under Stream's rate limits (pacing, and holds \
             after a 429), by endpoint",
            m.rate_limit_wait.clone(),
        );
        m.registry.register("jobs", "Jobs loaded", m.jobs.clone());
        // The API's series exist from the start too, so `rate()` sees the first error.
        for endpoint in Endpoint::ALL {
            for status in ANSWERS {
                m.api_requests
                    .get_or_create_owned(&api_labels(endpoint, status));
            }
            m.rate_limit_wait
                .get_or_create_owned(&endpoint_label(endpoint));
        }
        (m, rx)
    }

    /// Makes `jobs` the known jobs: their series exist from now on (at 0 until known better);
    /// series of jobs no longer loaded are dropped. Returns the jobs new to this set, whose
    /// ledgers are yet to be read.
    pub fn track_jobs<'a>(&self, jobs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let wanted: BTreeSet<String> = jobs.into_iter().map(str::to_owned).collect();
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        let gone: Vec<String> = views
            .keys()
            .filter(|j| !wanted.contains(*j))
            .cloned()
            .collect();
        for job in gone {
            views.remove(&job);
            let label = label(&job);
            self.last_success.remove(&label);
            self.last_run_failed.remove(&label);
            self.archives.remove(&label);
            self.bytes.remove(&label);
            self.missing_channels.remove(&label);
            self.missing_users.remove(&label);
            self.media_bytes.remove(&label);
            for status in MEDIA_STATUSES {
                self.media_files.remove(&media_labels(&job, status));
            }
            self.in_flight.remove(&label);
            self.oldest_age.remove(&label);
            self.until_lapse.remove(&label);
            for outcome in OUTCOMES {
                self.runs.remove(&run_labels(&job, outcome));
            }
        }
        let mut added = Vec::new();
        for job in &wanted {
            if !views.contains_key(job) {
                added.push(job.clone());
            }
            views.entry(job.clone()).or_default();
            let label = label(job);
            self.last_success.get_or_create_owned(&label);
            self.last_run_failed.get_or_create_owned(&label);
            self.archives.get_or_create_owned(&label);
            self.bytes.get_or_create_owned(&label);
            self.missing_channels.get_or_create_owned(&label);
            self.missing_users.get_or_create_owned(&label);
            self.media_bytes.get_or_create_owned(&label);
            for status in MEDIA_STATUSES {
                self.media_files
                    .get_or_create_owned(&media_labels(job, status));
            }
            self.in_flight.get_or_create_owned(&label);
            self.oldest_age.get_or_create_owned(&label);
            self.until_lapse.get_or_create_owned(&label);
            for outcome in OUTCOMES {
                self.runs.get_or_create_owned(&run_labels(job, outcome));
            }
        }
        self.jobs
            .set(i64::try_from(wanted.len()).unwrap_or(i64::MAX));
        added
    }

    /// The jobs whose series are kept.
    pub fn jobs(&self) -> Vec<String> {
        self.views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Takes in what version `seq` of the job's ledger says, unless a newer one was seen.
    pub fn set_state(&self, job: &str, seq: u64, state: &JobState) {
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(view) = views.get_mut(job) else {
            return; // no longer loaded
        };
        // Version 0 is an empty ledger: one deleted to start the job afresh counts again from
        // there.
        if seq != 0 && view.seq.is_some_and(|seen| seq < seen) {
            return;
        }
        view.seq = Some(seq);
        view.created = state.in_flight.iter().map(|t| t.created_at).collect();
        let label = label(job);
        self.in_flight
            .get_or_create(&label)
            .set(i64::try_from(view.created.len()).unwrap_or(i64::MAX));
        let last_ok = state
            .history
            .iter()
            .chain(state.last_outcome.as_ref())
            .filter(|o| o.ok)
            .map(|o| o.finished_at)
            .max();
        if let Some(at) = last_ok {
            self.last_success.get_or_create(&label).set(unix(at));
        }
        // An interrupted run neither fails nor clears a failure: the gauge follows the newest
        // run that went to its end.
        if let Some(last) = state.last_finished()
            && view.outcome_at.is_none_or(|at| last.finished_at >= at)
        {
            view.outcome_at = Some(last.finished_at);
            self.last_run_failed
                .get_or_create(&label)
                .set(i64::from(last.failed()));
        }
    }

    /// Takes in how a run of this process ended, before (or without) the ledger saying so.
    fn set_outcome(&self, view: &mut View, job: &str, failed: bool) {
        view.outcome_at = Some(self.clock.now());
        self.last_run_failed
            .get_or_create(&label(job))
            .set(i64::from(failed));
    }

    /// The Prometheus text exposition, with time-derived values computed now and the API
    /// client's counts taken in.
    pub fn render(&self, client: &ClientStats) -> String {
        let now = self.clock.now();
        for (job, view) in self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let label = label(job);
            let oldest = view.created.iter().min();
            let age = oldest.map_or(0.0, |c| seconds(now - *c).max(0.0));
            let lapse = oldest.map_or(seconds(STREAM_RETENTION), |c| {
                seconds(*c + STREAM_RETENTION - now)
            });
            self.oldest_age.get_or_create(&label).set(age);
            self.until_lapse.get_or_create(&label).set(lapse);
        }
        for (endpoint, status, count) in client.requests() {
            let counter = self
                .api_requests
                .get_or_create(&api_labels(endpoint, status));
            counter.inc_by(count.saturating_sub(counter.get()));
        }
        for (endpoint, waited) in client.waited_by_endpoint() {
            let counter = self
                .rate_limit_wait
                .get_or_create(&endpoint_label(endpoint));
            let (waited, seen) = (waited.as_secs_f64(), counter.get());
            if waited > seen {
                counter.inc_by(waited - seen);
            }
        }
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    fn ledger_changed(&self, job: &str) {
        let _ = self.changed.send(job.to_owned());
    }

    /// Asks for these jobs' ledgers to be read (jobs added by a reload, say).
    pub fn ledgers_changed(&self, jobs: Vec<String>) {
        for job in jobs {
            self.ledger_changed(&job);
        }
    }
}

impl Reporter for Metrics {
    fn event(&self, event: &Event) {
        // Held throughout: events of a job a reload removes meanwhile must not bring its
        // series back.
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(view) = views.get_mut(event.job()) else {
            return;
        };
        match event {
            Event::Created { batch, .. }
            | Event::Lapsed { batch, .. }
            | Event::AlreadyArchived(batch) => self.ledger_changed(&batch.job),
            Event::Archived {
                batch,
                bytes_stored,
                ..
            } => {
                let label = label(&batch.job);
                self.archives.get_or_create(&label).inc();
                self.bytes.get_or_create(&label).inc_by(*bytes_stored);
                self.ledger_changed(&batch.job);
            }
            Event::Missing { batch, ids } => {
                let family = match batch.kind {
                    ExportKind::Channels => &self.missing_channels,
                    ExportKind::Users => &self.missing_users,
                };
                family
                    .get_or_create(&label(&batch.job))
                    .inc_by(u64::try_from(ids.len()).unwrap_or(u64::MAX));
            }
            Event::MediaRecorded { job, media, .. } => {
                for (status, n) in &media.statuses {
                    self.media_files
                        .get_or_create(&media_labels(job, status))
                        .inc_by(*n);
                }
                self.media_bytes
                    .get_or_create(&label(job))
                    .inc_by(media.bytes_stored);
            }
            Event::TickFinished { job, outcome, .. } => {
                let name = match outcome {
                    TickOutcome::Done { .. } => "succeeded",
                    TickOutcome::Failed { .. } => "failed",
                    TickOutcome::Interrupted => "interrupted",
                    TickOutcome::Busy { .. } => "busy",
                    TickOutcome::AlreadyDone => "already_done",
                };
                self.runs.get_or_create(&run_labels(job, name)).inc();
                // Straight from the outcome too: a run that could not read the ledger could
                // not record its failure there either.
                match outcome {
                    TickOutcome::Done { .. } => self.set_outcome(view, job, false),
                    TickOutcome::Failed { .. } => self.set_outcome(view, job, true),
                    _ => {}
                }
                self.ledger_changed(job);
            }
            Event::TickStarted { .. }
            | Event::Resumed { .. }
            | Event::Exported { .. }
            | Event::Transferring { .. }
            | Event::BatchFailed { .. }
            | Event::LapseRisk { .. }
            | Event::Paused { .. } => {}
        }
    }
}

fn media_labels(job: &str, status: &str) -> MediaLabels {
    MediaLabels {
        job: job.to_owned(),
        status: status.to_owned(),
    }
}

fn label(job: &str) -> JobLabel {
    JobLabel {
        job: job.to_owned(),
    }
}

fn endpoint_label(endpoint: Endpoint) -> EndpointLabel {
    EndpointLabel {
        endpoint: endpoint.name().to_owned(),
    }
}

fn api_labels(endpoint: Endpoint, status: &str) -> ApiLabels {
    ApiLabels {
        endpoint: endpoint.name().to_owned(),
        status: status.to_owned(),
    }
}

fn run_labels(job: &str, outcome: &str) -> RunLabels {
    RunLabels {
        job: job.to_owned(),
        outcome: outcome.to_owned(),
    }
}

fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::{ClientConfig, StreamClient};
    use crate::clock::ManualClock;
    use crate::config::job::ExportKind;
    use crate::runner::RunError;
    use crate::state::{InFlight, Outcome};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
    }

    #[test]
    fn every_job_series_exists_at_zero_before_any_run() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let text = metrics.render(&client.stats());
        for series in [
            "chatvault_last_success_timestamp_seconds{job=\"daily\"} 0",
            "chatvault_runs_total{job=\"daily\",outcome=\"failed\"} 0",
            "chatvault_runs_total{job=\"daily\",outcome=\"succeeded\"} 0",
            "chatvault_archived_bytes_total{job=\"daily\"} 0",
            "chatvault_missing_channels_total{job=\"daily\"} 0",
            "chatvault_missing_users_total{job=\"daily\"} 0",
            "chatvault_export_tasks_in_flight{job=\"daily\"} 0",
            "chatvault_oldest_export_task_age_seconds{job=\"daily\"} 0",
            "chatvault_export_lapse_seconds{job=\"daily\"} 5184000",
            "chatvault_jobs 1",
            "chatvault_api_requests_total{endpoint=\"ExportChannels\",status=\"5xx\"} 0",
            "chatvault_api_requests_total{endpoint=\"GetTask\",status=\"transport\"} 0",
            "chatvault_rate_limit_wait_seconds_total{endpoint=\"ExportUsers\"} 0",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
    }

    #[test]
    fn members_stream_does_not_have_are_counted_by_kind() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let batch = |kind| crate::runner::events::BatchRef {
            job: "daily".into(),
            tick: at("2026-03-01T00:00:00Z"),
            run_id: "r1".into(),
            kind,
            batch: 1,
            key: "k".into(),
        };
        metrics.event(&Event::Missing {
            batch: batch(ExportKind::Channels),
            ids: vec!["messaging:gone".into(), "team:typo".into()],
        });
        metrics.event(&Event::Missing {
            batch: batch(ExportKind::Users),
            ids: vec!["ghost".into()],
        });
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let text = metrics.render(&client.stats());
        assert!(
            text.contains("chatvault_missing_channels_total{job=\"daily\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("chatvault_missing_users_total{job=\"daily\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn ages_and_lapse_follow_the_clock_and_the_ledger() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let created = at("2026-02-01T00:00:00Z");
        let state = JobState {
            in_flight: vec![InFlight {
                task_id: "t1".into(),
                kind: ExportKind::Channels,
                batch: 1,
                since: created,
                until: created,
                tick: created,
                channels: vec![],
                users: vec![],
                key: "k".into(),
                created_at: created,
                last_link_renewal: None,
                lapse_warned_at: None,
                missing: vec![],
            }],
            last_outcome: Some(Outcome {
                tick: created,
                finished_at: at("2026-02-28T00:00:00Z"),
                ok: false,
                error: Some("boom".into()),
                hint: None,
                archives: 0,
                bytes_stored: 0,
                warnings: Vec::new(),
                missing: Default::default(),
                interrupted: false,
            }),
            history: vec![Outcome {
                tick: created,
                finished_at: at("2026-02-27T00:00:00Z"),
                ok: true,
                error: None,
                hint: None,
                archives: 1,
                bytes_stored: 10,
                warnings: Vec::new(),
                missing: Default::default(),
                interrupted: false,
            }],
            ..JobState::default()
        };
        metrics.set_state("daily", 1, &state);
        let client = StreamClient::new(
            &ClientConfig::new("http://127.0.0.1:1", "k", "s"),
            clock.clone(),
        )
        .unwrap();
        let text = metrics.render(&client.stats());
        let day = 86_400.0;
        let value = |series: &str| -> f64 {
            line(&text, series)
                .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
                .parse()
                .unwrap()
        };
        assert_eq!(
            value("chatvault_export_tasks_in_flight{job=\"daily\"}"),
            1.0
        );
        assert_eq!(
            value("chatvault_oldest_export_task_age_seconds{job=\"daily\"}"),
            28.0 * day
        );
        assert_eq!(
            value("chatvault_export_lapse_seconds{job=\"daily\"}"),
            32.0 * day
        );
        assert_eq!(value("chatvault_last_run_failed{job=\"daily\"}"), 1.0);
        assert_eq!(
            value("chatvault_last_success_timestamp_seconds{job=\"daily\"}"),
            unix(at("2026-02-27T00:00:00Z"))
        );

        clock.advance(std::time::Duration::from_secs(31 * 86_400));
        let text = metrics.render(&client.stats());
        let lapse: f64 = line(&text, "chatvault_export_lapse_seconds{job=\"daily\"}")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(lapse, day, "one day left after 31 more days");
    }

    #[test]
    fn a_failure_the_ledger_never_heard_of_stands_until_a_newer_outcome() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let client = StreamClient::new(
            &ClientConfig::new("http://127.0.0.1:1", "k", "s"),
            clock.clone(),
        )
        .unwrap();
        let ledger_says = |finished_at: &str, ok: bool| JobState {
            last_outcome: Some(ended(finished_at, ok)),
            ..JobState::default()
        };
        let failed = |metrics: &Metrics| last_run_failed(metrics, &client);
        metrics.set_state("daily", 1, &ledger_says("2026-02-28T00:05:00Z", true));
        assert_eq!(failed(&metrics), "0");

        // A run that could not read the state fails; only this process knows.
        metrics.event(&Event::TickFinished {
            job: "daily".into(),
            tick: at("2026-03-01T00:00:00Z"),
            run_id: "r".into(),
            outcome: TickOutcome::Failed {
                error: RunError::Contended.into(),
            },
            recovered: false,
        });
        assert_eq!(failed(&metrics), "1");
        metrics.set_state("daily", 1, &ledger_says("2026-02-28T00:05:00Z", true));
        assert_eq!(
            failed(&metrics),
            "1",
            "an older success read back does not clear it"
        );

        // Another replica's later success does.
        metrics.set_state("daily", 2, &ledger_says("2026-03-01T00:10:00Z", true));
        assert_eq!(failed(&metrics), "0");
    }

    /// A run of the tick of 28 February that ended at `finished_at`.
    fn ended(finished_at: &str, ok: bool) -> Outcome {
        Outcome {
            tick: at("2026-02-28T00:00:00Z"),
            finished_at: at(finished_at),
            ok,
            error: None,
            hint: None,
            archives: 0,
            bytes_stored: 0,
            warnings: Vec::new(),
            missing: Default::default(),
            interrupted: false,
        }
    }

    /// Job `daily`'s `chatvault_last_run_failed` as rendered.
    fn last_run_failed(metrics: &Metrics, client: &StreamClient) -> String {
        line(
            &metrics.render(&client.stats()),
            "chatvault_last_run_failed{job=\"daily\"}",
        )
        .unwrap()
        .to_owned()
    }

    #[test]
    fn an_interrupted_run_neither_raises_nor_clears_the_failure_gauge() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let then_interrupted = |before: Outcome| {
            let stopped = Outcome::interrupted(before.tick, at("2026-02-28T06:00:00Z"));
            JobState {
                last_outcome: Some(stopped.clone()),
                history: vec![before, stopped],
                ..JobState::default()
            }
        };
        let failed = |metrics: &Metrics| last_run_failed(metrics, &client);
        metrics.set_state(
            "daily",
            1,
            &then_interrupted(ended("2026-02-28T00:05:00Z", true)),
        );
        assert_eq!(failed(&metrics), "0", "a stopped rollout is no failure");
        metrics.event(&Event::TickFinished {
            job: "daily".into(),
            tick: at("2026-03-01T00:00:00Z"),
            run_id: "r".into(),
            outcome: TickOutcome::Interrupted,
            recovered: false,
        });
        assert_eq!(failed(&metrics), "0");
        metrics.set_state(
            "daily",
            2,
            &then_interrupted(ended("2026-03-01T00:05:00Z", false)),
        );
        assert_eq!(
            failed(&metrics),
            "1",
            "nor does it hide the failure before it"
        );
    }

    #[test]
    fn an_older_ledger_version_read_late_does_not_put_old_values_back() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let succeeded_at = |finished_at: &str| JobState {
            last_outcome: Some(Outcome {
                tick: at("2026-02-28T00:00:00Z"),
                finished_at: at(finished_at),
                ok: true,
                error: None,
                hint: None,
                archives: 1,
                bytes_stored: 1,
                warnings: Vec::new(),
                missing: Default::default(),
                interrupted: false,
            }),
            ..JobState::default()
        };
        let series = "chatvault_last_success_timestamp_seconds{job=\"daily\"}";
        metrics.set_state("daily", 7, &succeeded_at("2026-02-28T12:00:00Z"));
        metrics.set_state("daily", 6, &succeeded_at("2026-02-27T12:00:00Z"));
        let text = metrics.render(&client.stats());
        let shown: f64 = line(&text, series).unwrap().parse().unwrap();
        assert_eq!(shown, unix(at("2026-02-28T12:00:00Z")), "{text}");

        // The ledger deleted to start afresh: its versions count from 0 again.
        metrics.set_state("daily", 0, &JobState::default());
        metrics.set_state("daily", 1, &succeeded_at("2026-03-01T06:00:00Z"));
        let text = metrics.render(&client.stats());
        let shown: f64 = line(&text, series).unwrap().parse().unwrap();
        assert_eq!(shown, unix(at("2026-03-01T06:00:00Z")), "{text}");
    }

    #[test]
    fn events_of_a_job_a_reload_removed_bring_no_series_back() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["kept", "ghost"]);
        metrics.track_jobs(["kept"]);
        // The run of `ghost` that was going on when it was removed ends.
        metrics.event(&Event::TickFinished {
            job: "ghost".into(),
            tick: at("2026-03-01T00:00:00Z"),
            run_id: "r".into(),
            outcome: TickOutcome::Done {
                archives: 1,
                bytes_stored: 579,
                warnings: Vec::new(),
                missing: crate::state::Missing::default(),
                media_outstanding: 0,
            },
            recovered: false,
        });
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let text = metrics.render(&client.stats());
        assert!(!text.contains("ghost"), "{text}");
        assert!(text.contains("job=\"kept\""), "{text}");
    }

    #[tokio::test]
    async fn time_spent_waiting_for_a_slot_is_counted_by_endpoint() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        let client = StreamClient::new(
            &ClientConfig::new("http://127.0.0.1:1", "k", "s"),
            clock.clone(),
        )
        .unwrap();
        // Creates are spaced a second apart (60 a minute): the second waits one second.
        client.limiter().acquire(Endpoint::ExportChannels).await;
        client.limiter().acquire(Endpoint::ExportChannels).await;
        let text = metrics.render(&client.stats());
        assert_eq!(
            line(
                &text,
                "chatvault_rate_limit_wait_seconds_total{endpoint=\"ExportChannels\"}"
            ),
            Some("1.0"),
            "{text}"
        );
        assert_eq!(
            line(
                &text,
                "chatvault_rate_limit_wait_seconds_total{endpoint=\"GetTask\"}"
            ),
            Some("0.0"),
            "{text}"
        );
    }

    #[test]
    fn a_job_no_longer_loaded_loses_its_series() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["a", "b"]);
        metrics.track_jobs(["b"]);
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let text = metrics.render(&client.stats());
        assert!(!text.contains("job=\"a\""), "{text}");
        assert!(text.contains("job=\"b\""), "{text}");
    }

    #[test]
    fn media_records_count_files_by_status_and_the_bytes_stored() {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T00:00:00Z")));
        let (metrics, _changed) = Metrics::new(clock.clone());
        metrics.track_jobs(["daily"]);
        let client =
            StreamClient::new(&ClientConfig::new("http://127.0.0.1:1", "k", "s"), clock).unwrap();
        let series = |status: &str| {
            format!("chatvault_media_files_total{{job=\"daily\",status=\"{status}\"}}")
        };
        let text = metrics.render(&client.stats());
        assert_eq!(line(&text, &series("gone")), Some("0"), "{text}");
        let mut media = crate::runner::MediaTally::default();
        media.statuses.insert("stored", 2);
        media.statuses.insert("failed", 1);
        media.bytes_stored = 300;
        media.outstanding = 1;
        metrics.event(&Event::MediaRecorded {
            job: "daily".into(),
            run_id: "r".into(),
            archive: "a.jsonl".into(),
            attempt: 1,
            media,
        });
        let text = metrics.render(&client.stats());
        assert_eq!(line(&text, &series("stored")), Some("2"), "{text}");
        assert_eq!(line(&text, &series("failed")), Some("1"), "{text}");
        assert_eq!(
            line(&text, "chatvault_media_bytes_total{job=\"daily\"}"),
            Some("300"),
            "{text}"
        );
    }
}

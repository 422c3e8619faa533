//! One tick of one job, from lease to release.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{Instrument as _, Span};

use super::batch::{BatchDone, Shared};
use super::claim::Claimed;
use super::error::{Failure, RunError, one_line};
use super::events::{Event, Phase, log_time};
use super::lease_keeper::LeaseKeeper;
use super::media::outstanding_warning;
use super::outcome::{BatchFailure, TickError, TickOutcome};
use super::windows::{batches, new_spans, resolve_channels};
use super::{RunError as E, Runner};
use crate::archive::media::capture::RunCache;
use crate::archive::seal::SealHead;
use crate::config::job::Job;
use crate::plan::batch::Batch;
use crate::plan::due::{due_ticks, latest_tick};
use crate::state::{JobState, Ledger, Missing, OpenWindow, Outcome, StateError, erasures};

impl Runner {
    /// Runs the job's due ticks (by its `catch_up` policy and the ledger) in order, stopping at
    /// the first that does not succeed. Empty when nothing is due.
    ///
    /// A ledger that cannot be read (the state store is down) fails the job's latest tick:
    /// which ticks are due is unknown, but a run was expected, and metrics, notifications and
    /// pings must hear that it did not happen.
    pub async fn run_due(&self, job: &Job) -> Result<Vec<(DateTime<Utc>, TickOutcome)>, RunError> {
        let last_tick = match self.ledger(&job.name).load().await {
            Ok(state) => state.into_value().last_tick,
            Err(e) => {
                let Some(tick) = latest_tick(job, self.clock.now()) else {
                    return Err(e.into());
                };
                let outcome = failed(e.into());
                self.failures.note(&job.name, &outcome);
                let run_id = new_run_id();
                run_span(job, tick, &run_id).in_scope(|| {
                    self.report(&Event::TickFinished {
                        job: job.name.clone(),
                        tick,
                        run_id,
                        outcome: outcome.clone(),
                        recovered: false,
                    });
                });
                return Ok(vec![(tick, outcome)]);
            }
        };
        let mut outcomes = Vec::new();
        for tick in due_ticks(job, last_tick, self.clock.now()) {
            if self.is_draining() {
                // Shutdown came first: say that this tick did not run.
                outcomes.push((tick, TickOutcome::Interrupted));
                break;
            }
            let outcome = self.run_tick(job, tick).await;
            let go_on = outcome.lets_later_ticks_run();
            outcomes.push((tick, outcome));
            if !go_on {
                break;
            }
        }
        Ok(outcomes)
    }

    /// Runs `job`'s tick `tick`: takes its lease, archives every open window and the new one,
    /// and moves the watermark when all of it is committed. Reports how it ended, whatever
    /// happened.
    pub async fn run_tick(&self, job: &Job, tick: DateTime<Utc>) -> TickOutcome {
        let run_id = new_run_id();
        let span = run_span(job, tick, &run_id);
        async {
            let ran = self.run_tick_as(job, tick, &run_id).await;
            // Also a recovery after a failure the ledger never heard of.
            let recovered = self.failures.note(&job.name, &ran.outcome) || ran.recovered;
            self.report(&Event::TickFinished {
                job: job.name.clone(),
                tick,
                run_id: run_id.clone(),
                outcome: ran.outcome.clone(),
                recovered,
            });
            ran.outcome
        }
        .instrument(span)
        .await
    }

    /// The run, from lease to release.
    async fn run_tick_as(&self, job: &Job, tick: DateTime<Utc>, run_id: &str) -> Ran {
        let leases = self.leases(&job.name);
        let lease = match leases.acquire(tick, self.options.lease_ttl).await {
            Ok(lease) => lease,
            Err(StateError::Held { holder, .. }) => return Ran::of(TickOutcome::Busy { holder }),
            Err(e) => return Ran::of(failed(e.into())),
        };
        let mut keeper =
            LeaseKeeper::start(leases, lease, self.options.lease_ttl, self.clock.clone());
        let outcome = tokio::select! {
            outcome = self.run_leased(job, tick, run_id) => outcome,
            () = keeper.lost() => Err(E::LostClaim { tick: tick.to_rfc3339() }),
            () = self.cancel.cancelled() => Err(E::Interrupted),
        };
        if matches!(outcome, Err(E::Interrupted)) {
            self.hand_back(job, tick).await;
        }
        keeper.release().await;
        match outcome {
            Ok(ran) => ran,
            Err(E::Interrupted) => Ran::of(TickOutcome::Interrupted),
            Err(e) => Ran::of(failed(e)),
        }
    }

    /// After a shutdown stopped the run: the job handed over at once instead of when the lease
    /// runs out, and the ledger saying the run was interrupted (its tasks stay recorded).
    async fn hand_back(&self, job: &Job, tick: DateTime<Utc>) {
        let ledger = self.ledger(&job.name);
        let at = self.clock.now();
        let handed = self
            .update_claimed(&ledger, tick, |s| {
                s.claim = None;
                s.record_outcome(Outcome::interrupted(tick, at));
            })
            .await;
        if let Err(e) = handed {
            tracing::warn!(error = %e, "could not clear the run's claim");
        }
    }

    /// The run under the tick's lease: read who is erased, claim the job, open the tick's
    /// windows, archive every open window batch by batch, record the end.
    async fn run_leased(
        &self,
        job: &Job,
        tick: DateTime<Utc>,
        run_id: &str,
    ) -> Result<Ran, RunError> {
        // Read at every run, so that an erasure requested meanwhile holds from the next run
        // on. Not knowing fails the run: storing an erased person's data is worse than not
        // archiving for now.
        let erased = self.erased_from(job).await?;
        let ledger = self.ledger(&job.name);
        let state = match self.claim(job, &ledger, tick).await? {
            Claimed::Ours(state) => state,
            Claimed::AlreadyDone => return Ok(Ran::of(TickOutcome::AlreadyDone)),
            Claimed::Busy(holder) => return Ok(Ran::of(TickOutcome::Busy { holder })),
        };
        let after_failure = state.last_finished().is_some_and(Outcome::failed);
        let recorded = state.seal.clone();
        let windows = self.open_windows(job, &ledger, tick, state).await?;
        let mut media_warnings = Vec::new();
        // One cache for the run: a link named by several of its archives is fetched once.
        let media = self.media_pass(job, &RunCache::default(), &mut media_warnings)?;
        let shared = Shared {
            media: media.as_ref(),
            erased: &erased,
        };
        let mut tally = self
            .run_batches(job, &ledger, tick, run_id, &windows, shared)
            .await?;
        tally.warnings.extend(media_warnings);
        if let Some(pass) = &media {
            let retried = self.retry_media(pass, run_id, &tally.done_keys).await?;
            tally.warnings.extend(retried.warnings);
            tally.media_outstanding = retried.tally.outstanding;
            if retried.tally.outstanding > 0 {
                tally
                    .warnings
                    .push(outstanding_warning(retried.tally.outstanding));
            }
        }
        let head = self
            .seal_run(job, recorded.as_ref(), &mut tally.warnings)
            .await;
        self.pause_point(&job.name, Phase::Seal).await;
        let outcome = self
            .record_end(job, &ledger, tick, &windows, tally, head)
            .await?;
        let recovered = after_failure && matches!(outcome, TickOutcome::Done { .. });
        Ok(Ran { outcome, recovered })
    }

    /// The users whose items `job`'s runs leave out of new exports: every erasure requested
    /// for all jobs or for this one.
    async fn erased_from(&self, job: &Job) -> Result<BTreeSet<String>, StateError> {
        let erased: BTreeSet<String> = erasures::list(&self.state)
            .await?
            .into_iter()
            .map(|e| e.request)
            .filter(|r| r.jobs.is_empty() || r.jobs.contains(&job.name))
            .map(|r| r.user)
            .collect();
        if !erased.is_empty() {
            tracing::debug!(users = ?erased, "leaving erased users out of new exports");
        }
        Ok(erased)
    }

    /// Adds the tick's new windows (and its users snapshot) to the job's open ones, with the
    /// channels resolved for them, and returns every open window, oldest first.
    async fn open_windows(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        state: JobState,
    ) -> Result<Vec<OpenWindow>, RunError> {
        let spans = new_spans(job, &state, tick);
        // One users export per tick, whatever the windows: it is a snapshot, not a window.
        let snapshot = Some(OpenWindow::snapshot(tick, job.users.clone()))
            .filter(|w| !w.users.is_empty() && !state.open.contains(w));
        if spans.is_empty() && snapshot.is_none() {
            return Ok(state.open);
        }
        let channels = if spans.is_empty() {
            Vec::new()
        } else {
            self.unless_draining(resolve_channels(&self.client, job))
                .await??
        };
        let added: Vec<OpenWindow> = spans
            .into_iter()
            .map(|s| OpenWindow {
                tick,
                since: s.since,
                until: s.until,
                channels: channels.clone(),
                users: Vec::new(),
            })
            .chain(snapshot)
            .collect();
        let state = self
            .update_claimed(ledger, tick, |s| {
                for w in &added {
                    if !s.open.contains(w) {
                        s.open.push(w.clone());
                    }
                }
            })
            .await?;
        Ok(state.open)
    }

    /// Every batch of `windows`, a few at a time, each to its archive; what they did, added
    /// up. A failed batch is reported and counted, the others go on. `Err` when the run must
    /// stop as a whole: its claim was lost, or a shutdown stopped a batch (its task stays
    /// recorded; the tick is handed back, not failed).
    async fn run_batches(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        run_id: &str,
        windows: &[OpenWindow],
        shared: Shared<'_>,
    ) -> Result<Tally, RunError> {
        let mut all: Vec<Batch> = Vec::new();
        for window in windows {
            all.extend(batches(job, window)?);
        }
        self.report(&Event::TickStarted {
            job: job.name.clone(),
            tick,
            run_id: run_id.to_owned(),
            windows: windows.len(),
            batches: all.len(),
        });

        let results: Vec<(Batch, Span, Result<BatchDone, RunError>)> =
            futures::stream::iter(all.into_iter().map(|batch| async {
                let span = batch_span(&batch);
                let result = self
                    .run_batch(job, ledger, tick, run_id, &batch, shared)
                    .instrument(span.clone())
                    .await;
                (batch, span, result)
            }))
            .buffer_unordered(self.options.batch_concurrency.max(1))
            .collect()
            .await;

        let mut tally = Tally::default();
        let mut interrupted = false;
        for (batch, span, result) in results {
            match result {
                Ok(done) => tally.add(&batch, done),
                Err(e @ E::LostClaim { .. }) => return Err(e),
                Err(E::Interrupted) => interrupted = true,
                Err(e) => {
                    let error = Failure::from(e);
                    span.in_scope(|| {
                        self.report(&Event::BatchFailed {
                            batch: self.batch_ref(job, tick, run_id, &batch),
                            error: error.clone(),
                        });
                    });
                    tally.failures.push(BatchFailure {
                        key: batch.key,
                        error,
                    });
                }
            }
        }
        if interrupted {
            return Err(E::Interrupted);
        }
        Ok(tally)
    }

    /// Records how the run ended: on success, `windows` closed and the watermark moved past
    /// them; either way the claim cleared, the outcome kept, and the run's seal (when it was
    /// written) kept as the job's newest.
    async fn record_end(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        windows: &[OpenWindow],
        tally: Tally,
        seal: Option<SealHead>,
    ) -> Result<TickOutcome, RunError> {
        let Tally {
            archives,
            bytes_stored,
            missing,
            failures,
            warnings,
            media_outstanding,
            done_keys: _,
        } = tally;
        let now = self.clock.now();
        let error = (!failures.is_empty()).then(|| TickError::Batches(failures));
        // The ledger keeps the line shown today; old records hold the same.
        let last_error = error.as_ref().map(|e| one_line(e));
        let hint = error.as_ref().and_then(TickError::hint).map(str::to_owned);
        if error.is_none() {
            self.pause_point(&job.name, Phase::Watermark).await;
        }
        let done_until = windows
            .iter()
            .filter(|w| !w.is_snapshot())
            .map(|w| w.until)
            .max();
        self.update_claimed(ledger, tick, |s| {
            if error.is_none() {
                s.open.retain(|w| !windows.contains(w));
                s.watermark = s.watermark.max(done_until);
                s.last_tick = s.last_tick.max(Some(tick));
            }
            s.claim = None;
            if seal.is_some() {
                s.seal.clone_from(&seal);
            }
            s.record_outcome(Outcome {
                tick,
                finished_at: now,
                ok: error.is_none(),
                error: last_error.clone(),
                hint: hint.clone(),
                archives,
                bytes_stored,
                warnings: warnings.clone(),
                missing: missing.clone(),
                interrupted: false,
            });
        })
        .await?;
        Ok(match error {
            None => TickOutcome::Done {
                archives,
                bytes_stored,
                warnings,
                missing,
                media_outstanding,
            },
            Some(error) => TickOutcome::Failed { error },
        })
    }
}

/// How a run ended, and whether it is a success after a failed run (a recovery, which
/// notifications announce).
struct Ran {
    outcome: TickOutcome,
    recovered: bool,
}

impl Ran {
    /// A run that ended before it could succeed, so recovered nothing.
    fn of(outcome: TickOutcome) -> Ran {
        Ran {
            outcome,
            recovered: false,
        }
    }
}

/// What a run's batches did, added up.
#[derive(Default)]
struct Tally {
    archives: u32,
    bytes_stored: u64,
    missing: Missing,
    failures: Vec<BatchFailure>,
    warnings: Vec<String>,
    /// References of the job's archives not captured yet, by their newest records.
    media_outstanding: u64,
    /// Archives of the batches that ended committed: their media was tried by this run.
    done_keys: Vec<String>,
}

impl Tally {
    fn add(&mut self, batch: &Batch, done: BatchDone) {
        if matches!(
            done,
            BatchDone::Archived { .. } | BatchDone::AlreadyArchived { .. }
        ) {
            self.done_keys.push(batch.key.clone());
        }
        match done {
            BatchDone::Archived {
                bytes_stored,
                warnings,
                missing,
            } => {
                self.archives += 1;
                self.bytes_stored += bytes_stored;
                self.warnings.extend(warnings);
                self.missing.add(batch.kind, &missing);
            }
            BatchDone::NothingToExport { missing } => self.missing.add(batch.kind, &missing),
            BatchDone::AlreadyArchived { warnings } => self.warnings.extend(warnings),
        }
    }
}

fn failed(error: RunError) -> TickOutcome {
    TickOutcome::Failed {
        error: error.into(),
    }
}

/// Names one run in logs and notifications: random, so two runs of one tick (a retry after a
/// crash, a racing replica) are told apart.
fn new_run_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// What every line logged during a run carries. ERROR level, so that any filter letting a
/// warning through keeps the span and its fields.
fn run_span(job: &Job, tick: DateTime<Utc>, run_id: &str) -> Span {
    tracing::error_span!("run", job = %job.name, tick = %log_time(tick), run_id)
}

/// What every line logged while a batch is worked on carries besides the run's; `task_id` is
/// recorded once the batch has a task.
fn batch_span(batch: &Batch) -> Span {
    tracing::error_span!(
        "batch",
        batch = batch.number,
        kind = batch.kind.name(),
        key = %batch.key,
        task_id = tracing::field::Empty,
    )
}

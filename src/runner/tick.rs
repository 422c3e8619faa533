//! One tick of one job, from lease to release.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{Instrument as _, Span};

use super::batch::BatchDone;
use super::claim::Claimed;
use super::due::{due_ticks, latest_tick};
use super::error::{Failure, RunError, one_line};
use super::events::{Event, Phase, log_time};
use super::lease_keeper::LeaseKeeper;
use super::outcome::{BatchFailure, TickError, TickOutcome};
use super::windows::{batches, new_spans, resolve_channels};
use super::{RunError as E, Runner};
use crate::config::job::Job;
use crate::plan::batch::Batch;
use crate::state::{Missing, OpenWindow, Outcome, StateError};

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
            let (outcome, recovered) = self.run_tick_as(job, tick, &run_id).await;
            // Also a recovery after a failure the ledger never heard of.
            let recovered = self.failures.note(&job.name, &outcome) || recovered;
            self.report(&Event::TickFinished {
                job: job.name.clone(),
                tick,
                run_id: run_id.clone(),
                outcome: outcome.clone(),
                recovered,
            });
            outcome
        }
        .instrument(span)
        .await
    }

    /// The run; `true` beside a success that follows a failed run.
    async fn run_tick_as(
        &self,
        job: &Job,
        tick: DateTime<Utc>,
        run_id: &str,
    ) -> (TickOutcome, bool) {
        let leases = self.leases(&job.name);
        let lease = match leases.acquire(tick, self.options.lease_ttl).await {
            Ok(lease) => lease,
            Err(StateError::Held { holder, .. }) => return (TickOutcome::Busy { holder }, false),
            Err(e) => return (failed(e.into()), false),
        };
        let mut keeper =
            LeaseKeeper::start(leases, lease, self.options.lease_ttl, self.clock.clone());
        let outcome = tokio::select! {
            outcome = self.run_leased(job, tick, run_id) => outcome,
            () = keeper.lost() => Err(E::LostClaim { tick: tick.to_rfc3339() }),
            () = self.cancel.cancelled() => Err(E::Interrupted),
        };
        if matches!(outcome, Err(E::Interrupted)) {
            // Hand the job over at once instead of when the lease runs out.
            let ledger = self.ledger(&job.name);
            if let Err(e) = self.update_claimed(&ledger, tick, |s| s.claim = None).await {
                tracing::warn!(error = %e, "could not clear the run's claim");
            }
        }
        keeper.release().await;
        match outcome {
            Ok(done) => done,
            Err(E::Interrupted) => (TickOutcome::Interrupted, false),
            Err(e) => (failed(e), false),
        }
    }

    async fn run_leased(
        &self,
        job: &Job,
        tick: DateTime<Utc>,
        run_id: &str,
    ) -> Result<(TickOutcome, bool), RunError> {
        let ledger = self.ledger(&job.name);
        let state = match self.claim(job, &ledger, tick).await? {
            Claimed::Ours(state) => state,
            Claimed::AlreadyDone => return Ok((TickOutcome::AlreadyDone, false)),
            Claimed::Busy(holder) => return Ok((TickOutcome::Busy { holder }, false)),
        };
        let after_failure = state.last_outcome.as_ref().is_some_and(|o| !o.ok);

        let spans = new_spans(job, &state, tick);
        // One users export per tick, whatever the windows: it is a snapshot, not a window.
        let snapshot = Some(OpenWindow::snapshot(tick, job.users.clone()))
            .filter(|w| !w.users.is_empty() && !state.open.contains(w));
        let state = if spans.is_empty() && snapshot.is_none() {
            state
        } else {
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
            self.update_claimed(&ledger, tick, |s| {
                for w in &added {
                    if !s.open.contains(w) {
                        s.open.push(w.clone());
                    }
                }
            })
            .await?
        };

        let windows = state.open.clone();
        let mut all: Vec<Batch> = Vec::new();
        for window in &windows {
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
                    .run_batch(job, &ledger, tick, run_id, &batch)
                    .instrument(span.clone())
                    .await;
                (batch, span, result)
            }))
            .buffer_unordered(self.options.batch_concurrency.max(1))
            .collect()
            .await;

        let mut archives = 0u32;
        let mut bytes_stored = 0u64;
        let mut missing = Missing::default();
        let mut failures = Vec::new();
        let mut warnings = Vec::new();
        let mut interrupted = false;
        for (batch, span, result) in results {
            match result {
                Ok(BatchDone::Archived {
                    bytes_stored: b,
                    warnings: w,
                    missing: m,
                }) => {
                    archives += 1;
                    bytes_stored += b;
                    warnings.extend(w);
                    missing.add(batch.kind, &m);
                }
                Ok(BatchDone::NothingToExport { missing: m }) => missing.add(batch.kind, &m),
                Ok(BatchDone::AlreadyArchived) => {}
                Err(e @ E::LostClaim { .. }) => return Err(e),
                // Its task stays recorded; the tick is handed back below, not failed.
                Err(E::Interrupted) => interrupted = true,
                Err(e) => {
                    let error = Failure::from(e);
                    span.in_scope(|| {
                        self.report(&Event::BatchFailed {
                            batch: self.batch_ref(job, tick, run_id, &batch),
                            error: error.clone(),
                        });
                    });
                    failures.push(BatchFailure {
                        key: batch.key,
                        error,
                    });
                }
            }
        }

        if interrupted {
            return Err(E::Interrupted);
        }
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
        self.update_claimed(&ledger, tick, |s| {
            if error.is_none() {
                s.open.retain(|w| !windows.contains(w));
                s.watermark = s.watermark.max(done_until);
                s.last_tick = s.last_tick.max(Some(tick));
            }
            s.claim = None;
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
            });
        })
        .await?;
        Ok(match error {
            None => (
                TickOutcome::Done {
                    archives,
                    bytes_stored,
                    warnings,
                    missing,
                },
                after_failure,
            ),
            Some(error) => (TickOutcome::Failed { error }, false),
        })
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

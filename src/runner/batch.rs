//! One batch of a tick: create (or resume) the export task, poll it, stream the file into the
//! destination, commit it with its manifest.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::error::RunError;
use super::events::{BatchRef, Event, Phase};
use super::media::MediaPass;
use super::{RunError as E, Runner};
use crate::api::wire::TaskState;
use crate::api::{ApiError, TaskKind};
use crate::archive::entities::Layout;
use crate::archive::manifest::{self, FORMAT, Manifest};
use crate::archive::tally::Tally;
use crate::archive::transfer::{Target, TransferError, Transferred, transfer_with_retries};
use crate::config::job::ExportKind;
use crate::config::job::{ExportVersion, Job};
use crate::plan::batch::Batch;
use crate::state::{InFlight, Ledger};
use crate::store::Store;

pub enum BatchDone {
    /// `warnings`: what the archive lacks; `missing`: members Stream does not have, left out
    /// of the archive.
    Archived {
        bytes_stored: u64,
        warnings: Vec<String>,
        missing: Vec<String>,
    },
    /// Its manifest exists: an earlier run committed it. `warnings`: what its media pass
    /// (when that run stopped before it) could not do.
    AlreadyArchived { warnings: Vec<String> },
    /// Stream has none of the batch's members: no export, no archive.
    NothingToExport { missing: Vec<String> },
}

/// What every batch of a run shares besides the job: the run's media pass (when the job
/// captures media) and the users left out of its exports (erasures).
#[derive(Clone, Copy)]
pub(super) struct Shared<'a> {
    pub media: Option<&'a MediaPass>,
    pub erased: &'a BTreeSet<String>,
}

impl Runner {
    pub(super) fn batch_ref(
        &self,
        job: &Job,
        tick: DateTime<Utc>,
        run_id: &str,
        batch: &Batch,
    ) -> BatchRef {
        BatchRef {
            job: job.name.clone(),
            tick,
            run_id: run_id.to_owned(),
            kind: batch.kind,
            batch: batch.number,
            key: batch.key.clone(),
        }
    }

    pub(super) async fn run_batch(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        run_id: &str,
        batch: &Batch,
        shared: Shared<'_>,
    ) -> Result<BatchDone, RunError> {
        let Shared { media, erased } = shared;
        let me = self.batch_ref(job, tick, run_id, batch);
        let dest = self.destination(job)?;
        if let Some(committed) = manifest::read(&dest, &batch.key).await? {
            self.forget(ledger, tick, &batch.key).await?;
            self.report(&Event::AlreadyArchived(me));
            let warnings = match media {
                Some(pass) => {
                    self.capture_committed(pass, run_id, &committed)
                        .await?
                        .warnings
                }
                None => Vec::new(),
            };
            return Ok(BatchDone::AlreadyArchived { warnings });
        }

        let Some(task) = self.task_for(job, ledger, tick, batch, &me).await? else {
            return Ok(BatchDone::NothingToExport {
                missing: batch.members.clone(),
            });
        };
        let kind = task_kind(batch.kind);

        self.pause_point(&job.name, Phase::Polling).await;
        let status = self
            .unless_draining(self.client.wait(kind, &task.task_id))
            .await??;
        if status.status != TaskState::Completed {
            // A failed task is not resumed: the next run exports the batch again.
            self.forget(ledger, tick, &batch.key).await?;
            let reason = status
                .error
                .and_then(|e| e.description.or(e.kind))
                .unwrap_or_else(|| "no reason given".into());
            return Err(E::TaskFailed {
                task_id: task.task_id,
                state: status.status.as_str().to_owned(),
                reason,
            });
        }
        self.report(&Event::Exported {
            batch: me.clone(),
            task_id: task.task_id.clone(),
        });

        let transfer = self.transfer(job, &dest, batch, &task, &me, erased);
        let transferred = match self.unless_draining(transfer).await? {
            Ok(t) => t,
            Err(e @ TransferError::Gone) => {
                // Stream deleted the file (60 days): export the batch again next run.
                self.forget(ledger, tick, &batch.key).await?;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };

        let exported = match batch.kind {
            ExportKind::Channels => &task.channels,
            ExportKind::Users => &task.users,
        };
        // An erased user asked for is left out on purpose: not a user Stream lacks.
        let exported: Vec<String> = exported
            .iter()
            .filter(|id| batch.kind != ExportKind::Users || !erased.contains(*id))
            .cloned()
            .collect();
        let mut warnings = wanting(batch.kind, &exported, &transferred.tally);
        self.pause_point(&job.name, Phase::Manifest).await;
        let snapshot = batch.window.since == batch.window.until;
        let record = Manifest {
            format: FORMAT,
            job: job.name.clone(),
            tick,
            window_since: (!snapshot).then_some(batch.window.since),
            window_until: (!snapshot).then_some(batch.window.until),
            snapshot_at: snapshot.then_some(task.created_at),
            kind: batch.kind.name().to_owned(),
            batch: batch.number,
            channels: task.channels.clone(),
            // Said of what the archive holds: an erased user asked for is not in it.
            users: without(&task.users, erased),
            missing: without(&task.missing, erased),
            task_id: task.task_id.clone(),
            export_version: job.export.version.to_string(),
            key: batch.key.clone(),
            bytes_source: transferred.bytes_source,
            bytes_stored: transferred.bytes_stored,
            sha256: transferred.sha256.clone(),
            content_encoding: job.destination.compression.to_string(),
            exported_at: Some(task.created_at),
            archived_at: self.clock.now(),
            chatvault_version: env!("CARGO_PKG_VERSION").to_owned(),
            contents: Some(transferred.tally.clone()),
            supersedes: None,
        };
        match manifest::write(&dest, &record, self.options.signing_key.as_deref()).await {
            Ok(()) => {}
            Err(manifest::ManifestError::Exists { .. }) => {
                let theirs = manifest::read(&dest, &batch.key)
                    .await?
                    .map(|m| m.sha256)
                    .unwrap_or_default();
                if theirs != transferred.sha256 {
                    return Err(E::ManifestMismatch {
                        key: batch.key.clone(),
                        theirs,
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.forget(ledger, tick, &batch.key).await?;
        self.report(&Event::Archived {
            batch: me,
            bytes_source: transferred.bytes_source,
            bytes_stored: transferred.bytes_stored,
            scrubbed: transferred.scrubbed,
        });
        if let Some(pass) = media {
            let done = self
                .capture_archive(pass, run_id, &batch.key, transferred.media)
                .await?;
            warnings.extend(done.warnings);
        }
        Ok(BatchDone::Archived {
            bytes_stored: transferred.bytes_stored,
            warnings,
            missing: task.missing,
        })
    }

    /// The batch's export task: the one an earlier run recorded, unless it lapsed, or a new
    /// one, recorded in the ledger before anything else is done with it. `None` when Stream
    /// has none of the batch's members.
    async fn task_for(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        batch: &Batch,
        me: &BatchRef,
    ) -> Result<Option<InFlight>, RunError> {
        let now = self.clock.now();
        let recorded = ledger
            .load()
            .await?
            .into_value()
            .in_flight
            .into_iter()
            .find(|t| t.key == batch.key);
        if let Some(task) = recorded {
            let lapses_at = task.lapses_at();
            if lapses_at > now {
                tracing::Span::current().record("task_id", task.task_id.as_str());
                if job.retention.at_risk(lapses_at, now) && task.lapse_warning_due(now) {
                    self.report(&Event::LapseRisk {
                        batch: me.clone(),
                        task_id: task.task_id.clone(),
                        created_at: task.created_at,
                        days_left: (lapses_at - now).num_days(),
                    });
                    let warned = self.update_claimed(ledger, tick, |s| {
                        for t in s.in_flight.iter_mut().filter(|t| t.key == task.key) {
                            t.lapse_warned_at = Some(now);
                        }
                    });
                    match warned.await {
                        Ok(_) => {}
                        Err(e @ RunError::LostClaim { .. }) => return Err(e),
                        Err(e) => tracing::warn!(
                            error = %e,
                            "could not record the lapse warning; the next run repeats it"
                        ),
                    }
                }
                self.report(&Event::Resumed {
                    batch: me.clone(),
                    task_id: task.task_id.clone(),
                });
                return Ok(Some(task));
            }
            self.report(&Event::Lapsed {
                batch: me.clone(),
                task_id: task.task_id.clone(),
            });
        }

        if self.is_draining() {
            return Err(E::Interrupted);
        }
        let created = self.create_export(job, batch).await?;
        if !created.missing.is_empty() {
            self.report(&Event::Missing {
                batch: me.clone(),
                ids: created.missing.clone(),
            });
        }
        let Some(task_id) = created.task_id else {
            // Stream has none of the batch's members: no task, no archive, nothing to redo.
            return Ok(None);
        };
        let (channels, users) = match batch.kind {
            ExportKind::Channels => (created.exported, Vec::new()),
            ExportKind::Users => (Vec::new(), created.exported),
        };
        let task = InFlight {
            task_id,
            kind: batch.kind,
            batch: batch.number,
            since: batch.window.since,
            until: batch.window.until,
            tick: batch.planned_by,
            channels,
            users,
            key: batch.key.clone(),
            created_at: self.clock.now(),
            last_link_renewal: None,
            lapse_warned_at: None,
            missing: created.missing,
        };
        let recorded = task.clone();
        self.update_claimed(ledger, tick, |s| {
            s.in_flight.retain(|t| t.key != recorded.key);
            s.in_flight.push(recorded.clone());
        })
        .await?;
        // Every later line of the batch (the transfer's retries, its failure) names the task.
        tracing::Span::current().record("task_id", task.task_id.as_str());
        self.report(&Event::Created {
            batch: me.clone(),
            task_id: task.task_id.clone(),
        });
        self.pause_point(&job.name, Phase::Created).await;
        Ok(Some(task))
    }

    /// Streams the export into the destination, each attempt with a fresh link.
    async fn transfer(
        &self,
        job: &Job,
        dest: &Store,
        batch: &Batch,
        task: &InFlight,
        me: &BatchRef,
        erased: &BTreeSet<String>,
    ) -> Result<Transferred, TransferError> {
        let kind = task_kind(batch.kind);
        let stored = Arc::new(AtomicU64::new(0));
        let progress = {
            let stored = stored.clone();
            let me = me.clone();
            move |bytes: u64| {
                stored.store(bytes, Ordering::Relaxed);
                self.report(&Event::Transferring {
                    batch: me.clone(),
                    bytes_stored: bytes,
                });
            }
        };
        let link = || async {
            let status = self.client.status(kind, &task.task_id).await?;
            status.result.map(|r| r.url).ok_or_else(|| {
                ApiError::Settings(format!("export task {} has no download link", task.task_id))
            })
        };
        let target = Target {
            key: &batch.key,
            compression: job.destination.compression,
            content_type: content_type(job.export.version, batch.kind),
            layout: layout(job.export.version, batch.kind),
            progress: Some(&progress),
            erased,
        };
        let transfer = transfer_with_retries(
            &self.http,
            link,
            dest,
            target,
            &self.options.transfer_retry,
            self.clock.as_ref(),
        );
        self.pause_in_transfer(&job.name, &stored, transfer).await
    }

    /// Drops the batch's task from the in-flight list (archived, failed or lapsed).
    async fn forget(
        &self,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        key: &str,
    ) -> Result<(), RunError> {
        self.update_claimed(ledger, tick, |s| s.in_flight.retain(|t| t.key != key))
            .await
            .map(drop)
    }
}

fn task_kind(kind: ExportKind) -> TaskKind {
    match kind {
        ExportKind::Channels => TaskKind::Channels,
        ExportKind::Users => TaskKind::Users,
    }
}

/// Stream caps a users export at this many messages per user.
const USER_EXPORT_CAP: u64 = 10_000;

/// What an archived export lacks: channels it asked for (`exported`) that are not in the file
/// at all (not merely quiet in the window: a soft-deleted channel is left out unless
/// `include_soft_deleted_channels`), and users whose export reached Stream's cap. Each is
/// logged here with its fields and returned as the sentence `status` and webhooks show.
fn wanting(kind: ExportKind, exported: &[String], tally: &Tally) -> Vec<String> {
    match kind {
        ExportKind::Channels => exported
            .iter()
            .filter(|cid| !tally.channels.contains_key(*cid))
            .map(|cid| {
                tracing::warn!(
                    channel = %cid,
                    "a channel asked for is not in its export (deleted at Stream, or \
                     soft-deleted without export.include_soft_deleted_channels)"
                );
                format!(
                    "channel {cid} is not in its export (deleted at Stream? soft-deleted channels \
                     are exported only with export.include_soft_deleted_channels: true)"
                )
            })
            .collect(),
        // A user the export holds has their record or messages in it; being named in
        // someone else's items does not make them exported.
        ExportKind::Users => exported
            .iter()
            .filter(|user| {
                tally
                    .users
                    .get(*user)
                    .is_none_or(|c| c.records == 0 && c.messages == 0)
            })
            .map(|user| {
                tracing::warn!(
                    user = %user,
                    "a user asked for is not in the users export (unknown to Stream?)"
                );
                format!(
                    "user {user} is not in its export: Stream took the request but has no data \
                     for this id (unknown to Stream? check the job's users)"
                )
            })
            .chain(
                tally
                    .users
                    .iter()
                    .filter(|(user, count)| {
                        exported.contains(*user) && count.messages >= USER_EXPORT_CAP
                    })
                    .map(|(user, count)| {
                        tracing::warn!(
                            user = %user,
                            messages = count.messages,
                            "a user's export reached Stream's cap of 10,000 messages: probably cut"
                        );
                        format!(
                            "user {user}'s export holds {} messages: Stream exports at most \
                     {USER_EXPORT_CAP} per user, so it was probably cut",
                            count.messages
                        )
                    }),
            )
            .collect(),
    }
}

/// How the export is laid out: v1 channel exports are one JSON document, the rest JSON Lines.
fn layout(version: ExportVersion, kind: ExportKind) -> Layout {
    match (version, kind) {
        (ExportVersion::V1, ExportKind::Channels) => Layout::Document,
        _ => Layout::Lines,
    }
}

/// The media type of the export as Stream makes it (before chatvault's compression).
fn content_type(version: ExportVersion, kind: ExportKind) -> &'static str {
    match (version, kind) {
        (ExportVersion::V1, ExportKind::Channels) => "application/json",
        _ => "application/x-ndjson",
    }
}

/// `ids` but the erased ones.
fn without(ids: &[String], erased: &BTreeSet<String>) -> Vec<String> {
    ids.iter()
        .filter(|id| !erased.contains(*id))
        .cloned()
        .collect()
}

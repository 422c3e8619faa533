//! The media pass of a run: the files an archive links to, fetched once the archive is
//! committed, and its media record written; then, each tick, what the job's newest records
//! leave outstanding fetched again, a bounded amount at a time. What is outstanding is read
//! from the records (never kept in the ledger), so `status` and `chatvault media` see what
//! runs see. The archive's success and the watermark never wait on its files.

use std::sync::Arc;

use super::Runner;
use super::error::RunError;
use super::events::{Event, MediaTally, Phase};
use crate::archive::manifest::Manifest;
use crate::archive::media::capture::{Capturer, Refresher, RunCache};
use crate::archive::media::record::{self, Draft, MediaRecord, Outcome, Reference};
use crate::archive::media::refs::{FoundRef, refs_in_archive};
use crate::archive::reading::standing::{newest_records, outstanding};
use crate::archive::reading::{Listing, Source};
use crate::clock::SharedClock;
use crate::config::job::{Job, MediaSettings};
use crate::fetch::{Fetcher, Policy};
use crate::links;
use crate::signing::SigningKey;
use crate::store::Store;

/// References a tick retries at most, so a tick stays short; the rest waits for the next.
pub const RETRIES_PER_TICK: usize = 300;

/// Why a reference of a capture cut short by its budget (`chatvault media --max-files`) is
/// outstanding: it was never requested.
pub const NOT_FETCHED_YET: &str = "not fetched yet: --max-files reached; the next call fetches it";

/// One job's media capture for one run: its destination, its fetch policy and the run's
/// cache (a link path downloaded at most once per run, whichever batch names it).
pub struct MediaPass {
    job: String,
    store: Store,
    prefix: String,
    capturer: Capturer,
    clock: SharedClock,
    /// Signs the records written; none: they are written unsigned.
    signer: Option<Arc<SigningKey>>,
}

impl MediaPass {
    /// Capture for the archives of job `job` in `store`, by `settings` (whatever their
    /// `capture`: the caller decides that).
    pub fn new(
        job: &str,
        settings: &MediaSettings,
        store: Store,
        refresher: Arc<dyn Refresher>,
        cache: RunCache,
        clock: SharedClock,
    ) -> Result<MediaPass, crate::fetch::FetchFailure> {
        let fetcher = Fetcher::new(Policy::from_settings(settings))?;
        let capturer = Capturer::new(
            store.clone(),
            settings.prefix.clone(),
            fetcher,
            refresher,
            cache,
            settings.concurrency,
            clock.clone(),
        );
        Ok(MediaPass {
            job: job.to_owned(),
            store,
            prefix: settings.prefix.clone(),
            capturer,
            clock,
            signer: None,
        })
    }

    /// The same pass, its records signed by `signer` when there is one.
    pub fn signed_by(self, signer: Option<Arc<SigningKey>>) -> MediaPass {
        MediaPass { signer, ..self }
    }

    /// Captures at most `limit` of `refs` (in order) of the archive at `archive` and writes its
    /// first record; the rest are recorded failed with [`NOT_FETCHED_YET`], so they stand
    /// outstanding and a later call or tick fetches them.
    pub async fn first(
        &self,
        archive: &str,
        mut refs: Vec<FoundRef>,
        limit: usize,
    ) -> Result<(MediaRecord, MediaTally), record::RecordError> {
        let later = refs.split_off(limit.min(refs.len()));
        let mut references = self.capturer.capture(refs).await;
        let mut tally = MediaTally::default();
        for r in &references {
            tally.count(&r.outcome);
        }
        references.extend(later.into_iter().map(|found| Reference {
            url: links::without_query(&found.url).to_owned(),
            owner: found.owner,
            field: found.field,
            outcome: Outcome::Failed {
                reason: NOT_FETCHED_YET.to_owned(),
            },
        }));
        let written = self.write(archive, references, 0).await?;
        tally.outstanding = outstanding(&written);
        Ok((written, tally))
    }

    /// Whether the job's policy lets `url` be fetched at all (no network: see
    /// [`Fetcher::check`]).
    pub fn allows(&self, url: &str) -> bool {
        self.capturer.allows(url)
    }

    /// Which references of `standing` a retry fetches, in order, at most `limit`: the
    /// outstanding ones, and with `recheck` also those refused or too large when recorded that
    /// the current settings allow.
    pub fn due(&self, standing: &MediaRecord, recheck: bool, limit: usize) -> Vec<bool> {
        let mut left = limit;
        standing
            .references
            .iter()
            .map(|r| {
                let wanted = r.outcome.outstanding() || (recheck && self.capturer.allows_now(r));
                let due = wanted && left > 0;
                if due {
                    left -= 1;
                }
                due
            })
            .collect()
    }

    /// References of `standing` refused or too large when recorded that the current settings
    /// would fetch (`chatvault media --recheck` does).
    pub fn allowed_now(&self, standing: &MediaRecord) -> usize {
        standing
            .references
            .iter()
            .filter(|r| self.capturer.allows_now(r))
            .count()
    }

    /// The record of `archive` as it stands; a new attempt is written (`standing.attempt + 1`)
    /// with the references marked `due` (see [`MediaPass::due`]) fetched again.
    pub async fn retry(
        &self,
        standing: &MediaRecord,
        due: &[bool],
    ) -> Result<(MediaRecord, MediaTally), record::RecordError> {
        let references = self.capturer.retry(&standing.references, due).await;
        let mut tally = MediaTally::default();
        for (now, due) in references.iter().zip(due) {
            if *due {
                tally.count(&now.outcome);
            }
        }
        let written = self
            .write(&standing.archive, references, standing.attempt)
            .await?;
        tally.outstanding = outstanding(&written);
        Ok((written, tally))
    }

    async fn write(
        &self,
        archive: &str,
        references: Vec<Reference>,
        after: u32,
    ) -> Result<MediaRecord, record::RecordError> {
        let draft = Draft {
            job: &self.job,
            archive,
            prefix: &self.prefix,
            now: self.clock.now(),
            after,
        };
        record::write_next(&self.store, draft, references, self.signer.as_deref()).await
    }

    /// The links of an archive written without a record, read from the archive once.
    pub async fn refs_of(&self, manifest: &Manifest) -> Result<Vec<FoundRef>, String> {
        refs_in_archive(&self.store, manifest)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What the run's media work ended with: its attempts added up, what is outstanding across
/// the job's newest records, and what went wrong (warnings: the archives are stored either
/// way).
#[derive(Debug, Default)]
pub(super) struct MediaDone {
    pub tally: MediaTally,
    pub warnings: Vec<String>,
}

impl Runner {
    /// The job's media pass for this run, or `None` (after a warning) when the job keeps
    /// links only or its fetcher cannot be built.
    pub(super) fn media_pass(
        &self,
        job: &Job,
        cache: &RunCache,
        warnings: &mut Vec<String>,
    ) -> Result<Option<MediaPass>, RunError> {
        if !job.media.capture {
            return Ok(None);
        }
        let store = self.destination(job)?;
        match MediaPass::new(
            &job.name,
            &job.media,
            store,
            self.refresher.clone(),
            cache.clone(),
            self.clock.clone(),
        ) {
            Ok(pass) => Ok(Some(pass.signed_by(self.options.signing_key.clone()))),
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch media; the archives keep their links");
                warnings.push(format!(
                    "media not captured: {e}; `chatvault media` captures it later"
                ));
                Ok(None)
            }
        }
    }

    /// The first media pass over a committed archive: its links fetched and record 1 written.
    /// A failure to write the record is a warning (the archive stands; `chatvault media`
    /// captures it later); a shutdown stops the pass, and the next run of the tick does it
    /// again (the objects stored so far are found stored).
    pub(super) async fn capture_archive(
        &self,
        pass: &MediaPass,
        run_id: &str,
        archive: &str,
        refs: Vec<FoundRef>,
    ) -> Result<MediaDone, RunError> {
        let references = self.unless_draining(pass.capturer.capture(refs)).await?;
        self.pause_point(&pass.job, Phase::Media).await;
        let mut tally = MediaTally::default();
        for r in &references {
            tally.count(&r.outcome);
        }
        match pass.write(archive, references, 0).await {
            Ok(written) => {
                tally.outstanding = outstanding(&written);
                self.report(&Event::MediaRecorded {
                    job: pass.job.clone(),
                    run_id: run_id.to_owned(),
                    archive: archive.to_owned(),
                    attempt: written.attempt,
                    media: tally.clone(),
                });
                Ok(MediaDone {
                    tally,
                    warnings: Vec::new(),
                })
            }
            Err(e) => Ok(MediaDone {
                tally: MediaTally::default(),
                warnings: vec![record_warning(archive, &e)],
            }),
        }
    }

    /// For an archive committed by an earlier run of this tick (which stopped before its
    /// media record): its links read from the archive and captured, unless a record exists.
    pub(super) async fn capture_committed(
        &self,
        pass: &MediaPass,
        run_id: &str,
        manifest: &Manifest,
    ) -> Result<MediaDone, RunError> {
        let first = record::record_key(&manifest.key, 1);
        match record::read_at(&pass.store, &first).await {
            Err(record::RecordError::Missing { .. }) => {}
            // Recorded (a retry takes it from there), or unreadable (said when it is retried).
            _ => return Ok(MediaDone::default()),
        }
        let refs = match self.unless_draining(pass.refs_of(manifest)).await? {
            Ok(refs) => refs,
            Err(e) => {
                return Ok(MediaDone {
                    tally: MediaTally::default(),
                    warnings: vec![format!(
                        "{}: its links could not be read for media capture: {e}",
                        manifest.key
                    )],
                });
            }
        };
        self.capture_archive(pass, run_id, &manifest.key, refs)
            .await
    }

    /// After the tick's batches: the job's archives whose newest record leaves references
    /// outstanding get the next attempt, at most [`RETRIES_PER_TICK`] references a tick
    /// (archives of this run are skipped: they were just tried). Archives without a record
    /// (written before media capture) are `chatvault media`'s. Returns what is outstanding
    /// across the job's newest records afterwards.
    pub(super) async fn retry_media(
        &self,
        pass: &MediaPass,
        run_id: &str,
        this_run: &[String],
    ) -> Result<MediaDone, RunError> {
        let listing = self
            .unless_draining(Listing::list(&[Source {
                job: Some(pass.job.clone()),
                store: pass.store.clone(),
                media_prefix: pass.prefix.clone(),
            }]))
            .await?;
        let mut done = MediaDone::default();
        for p in &listing.problems {
            done.warnings
                .push(format!("media retry: {}: {}", p.key, p.problem));
        }
        let (records, problems) = self.unless_draining(newest_records(&listing)).await?;
        for p in problems {
            done.warnings.push(format!("{}: {}", p.key, p.problem));
        }
        let mut budget = RETRIES_PER_TICK;
        for recorded in records {
            let waiting = outstanding(&recorded.record);
            let key = &recorded.listed.manifest.key;
            let due = waiting > 0 && budget > 0 && !this_run.contains(key);
            if !due {
                done.tally.outstanding += waiting;
                continue;
            }
            let due = pass.due(&recorded.record, false, budget);
            budget = budget.saturating_sub(due.iter().filter(|d| **d).count());
            match self
                .unless_draining(pass.retry(&recorded.record, &due))
                .await?
            {
                Ok((written, tally)) => {
                    self.report(&Event::MediaRecorded {
                        job: pass.job.clone(),
                        run_id: run_id.to_owned(),
                        archive: key.clone(),
                        attempt: written.attempt,
                        media: tally.clone(),
                    });
                    done.tally.add(&tally);
                }
                Err(e) => {
                    done.tally.outstanding += waiting;
                    done.warnings.push(record_warning(key, &e));
                }
            }
        }
        Ok(done)
    }
}

fn record_warning(archive: &str, e: &record::RecordError) -> String {
    tracing::warn!(%archive, error = %e, "media record not written");
    format!("{archive}: media record not written ({e}); `chatvault media` captures it later")
}

/// The warning a run with outstanding references ends with.
pub(super) fn outstanding_warning(count: u64) -> String {
    format!(
        "{count} media reference(s) of the job's archives are not captured yet (their \
         downloads failed); later runs retry them"
    )
}

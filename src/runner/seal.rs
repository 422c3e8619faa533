//! The seal that ends every run: the job's documents no earlier seal names, chained to the
//! job's previous seal. A seal that cannot be written does not fail the run, whose archives
//! are committed: the next run's seal names them.

use super::Runner;
use crate::archive::seal::{SealHead, seal};
use crate::config::job::Job;

impl Runner {
    /// Writes the job's next seal; its head, or `None` (with a warning added) when it could
    /// not be written. Documents that could not be read add their warnings too.
    pub(super) async fn seal_run(&self, job: &Job, warnings: &mut Vec<String>) -> Option<SealHead> {
        let sealed = match self.destination(job) {
            Ok(store) => seal(
                &store,
                &job.name,
                &job.media.prefix,
                self.options.signing_key.as_deref(),
                self.clock.now(),
                &self.seals,
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match sealed {
            Ok(sealed) => {
                tracing::info!(
                    sequence = sealed.head.sequence,
                    covered = sealed.covered,
                    seal = %sealed.head.key,
                    "run sealed"
                );
                for warning in &sealed.warnings {
                    tracing::warn!("{warning}");
                }
                warnings.extend(sealed.warnings);
                Some(sealed.head)
            }
            Err(error) => {
                tracing::warn!(%error, "the run's seal could not be written");
                warnings.push(format!(
                    "the run's seal could not be written: {error}; the next run's seal covers \
                     its archives"
                ));
                None
            }
        }
    }
}

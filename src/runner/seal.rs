//! The seal that ends every run: the job's documents no earlier seal names, chained to the
//! job's previous seal. A seal that cannot be written does not fail the run, whose archives
//! are committed: the next run's seal names them. Nor does a chain found cut, though no seal
//! is written until the cut seal is back: a new one would hide the cut.

use super::Runner;
use crate::archive::seal::{SealError, SealHead, Sealing, seal};
use crate::config::job::Job;

impl Runner {
    /// Writes the job's next seal; its head, or `None` (with a warning added) when it could
    /// not be written. Documents that could not be read, or that a deployment which signs
    /// did not sign, add their warnings too. `recorded` is the seal the job's ledger names.
    pub(super) async fn seal_run(
        &self,
        job: &Job,
        recorded: Option<&SealHead>,
        warnings: &mut Vec<String>,
    ) -> Option<SealHead> {
        let sealing = Sealing {
            signer: self.options.signing_key.as_deref(),
            keyring: &self.options.keyring,
            recorded,
        };
        let sealed = match self.destination(job) {
            Ok(store) => seal(
                &store,
                &job.name,
                &job.media.prefix,
                sealing,
                self.clock.now(),
                &self.seals,
            )
            .await
            .map_err(|e| {
                let cut = matches!(e, SealError::Cut { .. });
                (e.to_string(), cut)
            }),
            Err(e) => Err((e.to_string(), false)),
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
            Err((error, true)) => {
                tracing::error!(%error, "the run wrote no seal: sealing is stopped");
                warnings.push(format!(
                    "{error}: run chatvault verify --job {job} and see the README's Auditing \
                     section; sealing is stopped until the seal is back",
                    job = job.name
                ));
                None
            }
            Err((error, false)) => {
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

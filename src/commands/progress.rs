//! `run --once` in a terminal: a line per batch showing its phase and bytes, redrawn in place.
//! Not in a terminal, the runner's events become log lines instead (see `LogReporter`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};

use super::output;
use crate::runner::events::{BatchRef, Event, log};
use crate::runner::{Reporter, TickOutcome};

pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, batch: &BatchRef) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
        bars.entry(batch.key.clone())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}  {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!(
                    "{} {}-{}",
                    batch.job,
                    batch.kind.name(),
                    batch.batch
                ));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    fn line(&self, text: String) {
        let _ = self.multi.println(text);
    }
}

impl Reporter for Bars {
    fn event(&self, event: &Event) {
        match event {
            Event::TickStarted {
                job,
                tick,
                windows,
                batches,
                ..
            } => self.line(format!(
                "{job}: tick {tick}: {batches} batch(es) in {windows} window(s)"
            )),
            Event::AlreadyArchived(b) => self.bar(b).finish_with_message("already archived"),
            Event::Created { batch, task_id } => self
                .bar(batch)
                .set_message(format!("exporting (task {task_id})")),
            Event::Resumed { batch, task_id } => self
                .bar(batch)
                .set_message(format!("exporting (task {task_id}, resumed)")),
            Event::Exported { batch, .. } => self.bar(batch).set_message("transferring"),
            Event::Transferring {
                batch,
                bytes_stored,
            } => self.bar(batch).set_message(format!(
                "transferring, {} stored",
                HumanBytes(*bytes_stored)
            )),
            Event::Archived {
                batch,
                bytes_stored,
                ..
            } => self.bar(batch).finish_with_message(format!(
                "archived {} → {}",
                HumanBytes(*bytes_stored),
                batch.key
            )),
            Event::BatchFailed { batch, error } => self
                .bar(batch)
                .abandon_with_message(format!("failed: {error}")),
            Event::TickFinished {
                job,
                tick,
                outcome:
                    TickOutcome::Done {
                        archives,
                        bytes_stored,
                        warnings,
                        missing,
                        ..
                    },
                ..
            } => self.line(format!(
                "{job}: tick {tick}: done, {archives} new archive(s), {}{}",
                HumanBytes(*bytes_stored),
                output::warning_lines(missing, warnings)
            )),
            Event::TickFinished {
                job,
                tick,
                outcome: TickOutcome::Failed { error },
                ..
            } => self.line(format!("{job}: tick {tick}: failed: {error}")),
            // `run --once` prints these in its summary.
            Event::TickFinished { .. } => {}
            Event::LapseRisk { .. }
            | Event::Missing { .. }
            | Event::Lapsed { .. }
            | Event::MediaRecorded { .. }
            | Event::Paused { .. } => {
                self.multi.suspend(|| log(event));
            }
        }
    }
}

//! Named steps of `expire` and `erase` where a crash test can freeze the process to kill it
//! there (`CHATVAULT_PAUSE_AT=<step>`, read by the command), as the run's pause points do:
//! each step is one line where it sits.

/// The step to freeze at, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseAt(Option<String>);

impl PauseAt {
    pub fn at(step: Option<String>) -> PauseAt {
        PauseAt(step)
    }

    /// Freezes here when told to, after saying so on stderr (crash tests wait for
    /// `paused at <step>`, then kill the process).
    pub async fn point(&self, step: &str) {
        if self.0.as_deref() == Some(step) {
            tracing::warn!(step, "paused at {step} (CHATVAULT_PAUSE_AT)");
            std::future::pending::<()>().await;
        }
    }
}

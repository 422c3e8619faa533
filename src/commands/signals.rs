//! The one place that listens for signals: SIGTERM and SIGINT ask to stop (what Kubernetes
//! and a terminal send), SIGHUP to reload the job files (the daemon only).

use std::future::pending;

use tokio::signal::unix::{self, SignalKind};

use super::output;

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    Stop,
    Reload,
}

pub(super) struct Signals {
    term: unix::Signal,
    int: unix::Signal,
    hup: Option<unix::Signal>,
}

impl Signals {
    /// Listens from now on; `reload`: SIGHUP too. `None`, after saying so, when the system
    /// refuses.
    pub(super) fn listen(reload: bool) -> Option<Signals> {
        let listen = || -> std::io::Result<Signals> {
            Ok(Signals {
                term: unix::signal(SignalKind::terminate())?,
                int: unix::signal(SignalKind::interrupt())?,
                hup: if reload {
                    Some(unix::signal(SignalKind::hangup())?)
                } else {
                    None
                },
            })
        };
        listen()
            .map_err(|e| output::error(&format!("cannot listen for signals: {e}"), None))
            .ok()
    }

    /// The next signal.
    pub(super) async fn next(&mut self) -> Signal {
        let hup = async {
            match &mut self.hup {
                Some(hup) => hup.recv().await,
                None => pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => Signal::Stop,
            _ = self.int.recv() => Signal::Stop,
            _ = hup => Signal::Reload,
        }
    }

    /// The next SIGTERM or SIGINT.
    pub(super) async fn stop(&mut self) {
        while self.next().await != Signal::Stop {}
    }
}

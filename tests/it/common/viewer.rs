//! A `chatvault ui` process, as the viewer's tests run it: started, its URL read from the
//! `listening on` line, everything it prints kept (read as it comes, so a busy access log
//! never blocks the server on a full pipe), stopped with SIGTERM or killed when dropped.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::processes::signal;

pub struct Viewer {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash: a server on every interface is
    /// reached through loopback.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Viewer {
    /// Starts `cmd` (a `chatvault ui …` command) and waits for its `listening on` line.
    pub async fn start(mut cmd: Command) -> Viewer {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("chatvault ui starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, mut listening) = tokio::sync::mpsc::unbounded_channel();
        let readers = vec![
            drain(child.stdout.take().expect("stdout"), &log, None),
            drain(child.stderr.take().expect("stderr"), &log, Some(found)),
        ];
        let url = tokio::time::timeout(Duration::from_secs(60), listening.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "chatvault ui printed no `listening on http://…/` line:\n{}",
                    log.lock().expect("log").join("\n")
                )
            });
        Viewer {
            child,
            url,
            log,
            readers,
        }
    }

    /// What it printed so far.
    pub fn printed(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// Stops it with SIGTERM, which must end it with exit 0; returns all it printed.
    pub async fn stop(mut self) -> String {
        signal(&self.child, "TERM");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the viewer stops on SIGTERM")
            .expect("wait");
        for reader in self.readers.drain(..) {
            reader.await.expect("the output reader");
        }
        let printed = self.printed();
        assert_eq!(status.code(), Some(0), "{printed}");
        printed
    }
}

/// Reads `stream` to its end into `log`; sends the URL of a `listening on http://HOST:PORT/`
/// line to `found`, as one reaches it over loopback (`0.0.0.0` becomes `127.0.0.1`).
fn drain(
    stream: impl AsyncRead + Unpin + Send + 'static,
    log: &Arc<Mutex<Vec<String>>>,
    found: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> JoinHandle<()> {
    let log = Arc::clone(log);
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let (Some(found), Some((_, rest))) =
                (&found, line.split_once("listening on http://"))
            {
                let address = rest.trim().trim_end_matches('/');
                let address = address.replace("0.0.0.0:", "127.0.0.1:");
                let _ = found.send(format!("http://{address}"));
            }
            log.lock().expect("log").push(line);
        }
    })
}

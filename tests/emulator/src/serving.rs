//! A router served on a bound loopback listener: stopped at once when dropped, or after open
//! requests finish when shut down. What the export API emulator and the GCS server both run.

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long [`Serving::shutdown`] lets open requests finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves `app` on `listener` until stopped.
    pub(crate) fn start(listener: TcpListener, app: Router) -> Serving {
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            // The listener is bound already; serving itself only ends with the shutdown signal.
            let _ = serve.await;
        });
        Serving {
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops accepting connections, lets open requests finish (up to two seconds), then stops.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

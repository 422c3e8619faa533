//! A Google Cloud Storage server speaking the XML API that object_store's GCS client uses, kept
//! in memory, for chatvault's tests: object PUT (with `x-goog-if-generation-match`), XML
//! multipart uploads, GET with a range, HEAD, DELETE, copy and `list-type=2` listings.
//! Written from Google's XML API reference; see the crate README for what it leaves out.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use chatvault_emulator::gcs::GcsServer;
//!
//! let gcs = GcsServer::start(&["my-bucket"]).await?;
//! // ... open gs://my-bucket with google_base_url = gcs.base_url(), skipping signatures ...
//! gcs.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod listing;
mod model;
mod range;
mod routes;
mod xml;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

pub use model::OpenUpload;

use model::Model;
use routes::Shared;

use crate::serving::Serving;

/// A running server on loopback. It does not check credentials: clients skip signing. Dropping
/// it stops the server at once.
pub struct GcsServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serving: Serving,
}

impl GcsServer {
    /// Starts a server on `127.0.0.1` and a free port, with `buckets` existing and empty.
    pub async fn start(buckets: &[&str]) -> std::io::Result<GcsServer> {
        Self::start_on_port(buckets, 0).await
    }

    /// Starts a server on `127.0.0.1:port` (0 picks a free port).
    pub async fn start_on_port(buckets: &[&str], port: u16) -> std::io::Result<GcsServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::with_buckets(buckets)),
            base_url: format!("http://{addr}"),
        });
        let app = routes::router(Arc::clone(&shared));
        Ok(GcsServer {
            shared,
            addr,
            serving: Serving::start(listener, app),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: object_store's `google_base_url`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Multipart uploads begun and neither completed nor aborted.
    pub fn open_uploads(&self) -> Vec<OpenUpload> {
        self.shared.model().open_uploads()
    }

    /// Stops accepting connections, lets open requests finish (up to two seconds), then stops.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

impl std::fmt::Debug for GcsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsServer")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

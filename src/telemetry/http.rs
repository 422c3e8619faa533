//! The daemon's HTTP listener (`run --listen`): `/metrics`, `/healthz`, `/readyz`. Answers
//! are plain text; nothing here takes input beyond the path.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Health, Metrics};
use crate::api::ClientStats;

/// What the endpoints read.
pub struct Endpoints {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The API client's counts, taken into `/metrics`.
    pub client: ClientStats,
}

/// Serves until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    endpoints: Arc<Endpoints>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(endpoints);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

async fn metrics(State(e): State<Arc<Endpoints>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        e.metrics.render(&e.client),
    )
        .into_response()
}

async fn healthz(State(e): State<Arc<Endpoints>>) -> Response {
    answer(e.health.live())
}

async fn readyz(State(e): State<Arc<Endpoints>>) -> Response {
    answer(e.health.ready())
}

fn answer(check: Result<(), String>) -> Response {
    match check {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

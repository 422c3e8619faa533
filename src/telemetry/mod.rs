//! How a running daemon is watched from outside: Prometheus metrics and health checks over
//! HTTP (`run --listen`).

mod health;
pub mod http;
mod metrics;

pub use health::Health;
pub use metrics::{Changed, Metrics};

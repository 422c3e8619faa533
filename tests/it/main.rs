//! chatvault's integration tests, as one test binary: the crate and its dependencies are
//! linked once, not once per test file (as twenty binaries they took about 2.4 GB of
//! `target/`). Each file here is a module of this crate; the helpers they share
//! live in `common/` and are reached as `crate::common::…`. A new test file is a new `mod`
//! line below, not a new file directly in `tests/` (which cargo would build as another binary).
//! Expected output is kept as insta snapshots under `snapshots/` (how to review and accept
//! them: `validation.rs`).
//!
//! `scripts/test` runs them with cargo-nextest, which gives every test a process of its own,
//! so no test sees another's process-wide state: the storm installs the global tracing
//! subscriber and counts every daemon error logged in its process. A subset, by module or test
//! name:
//!
//! ```text
//! cargo nextest run -E 'test(/^storm::/)'
//! cargo nextest run -E 'test(/^validation::/) | test(/^plan::/)'
//! ```
//!
//! `cargo test --test it MODULE::` works too, but runs the tests it selects as threads of one
//! process: give the storm a run of its own there (`cargo test --test it storm::`).

mod api;
mod common;
mod completions;
mod contents;
mod daemon;
mod duckdb;
mod empty;
mod erase;
mod errors;
mod examples;
mod expire;
mod fuzz_corpus;
mod holds;
mod layers;
mod locked;
mod logs;
mod media;
mod media_capture;
mod missing;
mod notify;
mod operating;
mod plan;
mod process;
mod run;
mod sdk_crosscheck;
mod search;
mod secrets;
mod servers_smoke;
mod signing;
mod state;
mod stores;
mod storm;
mod threads;
mod transcript;
mod transfer;
mod ui;
mod ui_browser;
mod validation;
mod verify;

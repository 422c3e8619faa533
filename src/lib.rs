//! chatvault: archives Stream Chat data on a schedule, driven by job files kept in git.

pub mod api;
pub mod archive;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod diagnostics;
pub mod fetch;
#[doc(hidden)]
pub mod fuzzing;
pub mod lifecycle;
pub mod links;
pub mod notify;
pub mod plan;
pub mod query;
pub mod retry;
pub mod runner;
pub mod schedule;
pub mod signing;
pub mod state;
pub mod store;
pub mod suggest;
pub mod telemetry;
pub mod text;
pub mod ui;

//! The emulator driven over HTTP the way a client (and chatvault) drives Stream.

mod auth;
mod binary;
mod common;
mod control;
mod exports;
mod faults;
mod files;
mod limits;
mod media;
mod query_channels;
mod robustness;

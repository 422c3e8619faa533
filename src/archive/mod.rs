//! Archives: the streaming transfer from Stream's link into a store, manifests,
//! and their verification.

pub mod entities;
pub mod manifest;
pub mod tally;
pub mod transfer;
pub mod verify;

//! Archives: the streaming transfer from Stream's link into a store, manifests,
//! and their verification.

pub mod manifest;
pub mod transfer;
pub mod verify;

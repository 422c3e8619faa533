//! Archives: object keys, the streaming transfer from Stream's link into a store, manifests,
//! and their verification.

pub mod key;
pub mod manifest;
pub mod transfer;
pub mod verify;

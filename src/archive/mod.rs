//! Archives: the streaming transfer from Stream's link into a store, what an export holds
//! (`entities`, `tally`), manifests, their verification, and reading archives back: one
//! archive (`read`), the one read path over many (`reading`), and what is built on it
//! (`search`, `transcript`, `verify`).

pub mod attachments;
pub mod catalog;
pub mod entities;
pub mod files;
pub mod manifest;
pub mod media;
pub mod naming;
pub mod people;
pub mod read;
pub mod reading;
pub mod replacement;
pub mod scrubbing;
pub mod seal;
pub mod search;
pub mod tally;
pub mod transcript;
pub mod transfer;
pub mod verify;

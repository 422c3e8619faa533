//! Where archives go: object keys now; destinations, transfer and manifests later.

pub mod key;
pub mod manifest;
pub mod store;
pub mod store_url;
pub mod transfer;
pub mod verify;

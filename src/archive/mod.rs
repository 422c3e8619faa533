//! Where archives go: object keys now; destinations, transfer and manifests later.

pub mod key;
pub mod store_url;

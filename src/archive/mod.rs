//! Where archives go: store URLs and the stores behind them, object keys, the streaming
//! transfer from Stream's link into a store, manifests, and their verification.

pub mod key;
pub mod manifest;
pub mod store;
pub mod store_url;
pub mod transfer;
pub mod verify;

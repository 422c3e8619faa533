//! The viewer's one asset, compiled into the binary: no CDN, nothing fetched from elsewhere.

pub const STYLE: &str = include_str!("assets/style.css");

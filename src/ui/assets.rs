//! The viewer's assets, compiled into the binary: no CDN, nothing fetched from elsewhere.

pub const STYLE: &str = include_str!("assets/style.css");
/// The tab's icon; without one a browser asks for `/favicon.ico` on every page.
pub const ICON: &str = include_str!("assets/icon.svg");

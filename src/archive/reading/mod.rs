//! The one read path: one listing of where archives are (`listing`), one reader of many
//! archives (`many`), one problem type (`problem`), one rule for copies of a message and one
//! order (`copies`), one threading of a conversation (`thread`). Search, transcripts,
//! `index`, `verify` and every viewer page are built on these.

pub mod copies;
pub mod listing;
pub mod many;
pub mod media;
pub mod problem;
pub mod standing;
pub mod thread;

pub use listing::{Listed, Listing, NoArchives, Source};
pub use problem::Problem;

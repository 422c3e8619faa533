//! The files an archive's messages, users and channels link to, kept beside the archives:
//! stored once by content (`layout`), and for each archive, records of what became of every
//! reference (`record`).

pub mod kind;
pub mod layout;
pub mod record;

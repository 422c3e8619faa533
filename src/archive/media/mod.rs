//! The files an archive's messages, users and channels link to, kept beside the archives:
//! the links an export holds (`refs`), fetched, sniffed (`sniff`) and stored once by content
//! (`capture`, `layout`), refreshed through Stream when they expired (`refresh`), and for each
//! archive, records of what became of every reference (`record`).

pub mod capture;
pub mod kind;
pub mod layout;
pub mod record;
pub mod refresh;
pub mod refs;
pub mod sniff;

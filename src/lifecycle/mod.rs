//! What happens to archives after they are written: retention (`expire`), legal holds, and
//! erasure. All of it removes or replaces archives, so all of it writes removal records into
//! the job's chain of seals first, and the hold always wins.

pub mod erase;
pub mod expire;
pub mod head;
pub mod holds;
pub mod pause;
pub mod vouch;

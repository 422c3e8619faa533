//! Job files and the global config: the model, object-key templates, loading (YAML/TOML,
//! `${VAR}`), and validation
//! with file/line/field diagnostics.

pub mod discover;
pub mod hold;
pub mod holds;
pub mod hosts;
pub mod interpolate;
pub mod job;
pub mod key;
pub mod load;
pub mod model;
pub mod schema;
pub mod size;
mod toml;
pub mod validate;
mod yaml;

pub use job::{Job, JobSet, Settings};
pub use load::{Blocked, LoadOptions, Loaded, MissingVars, load, load_config_text, load_job_text};

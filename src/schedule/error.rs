//! Everything that can go wrong while reading a schedule or a time zone, worded
//! for the person who wrote the job file: each message names the problem and
//! the form that was expected, in standard five-field cron terms only.

use std::fmt;

use thiserror::Error;

/// The macros users may write, in the order they are listed back to them.
pub(crate) const MACRO_NAMES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Shown wherever the expected shape of a whole expression is explained, so the
/// wording stays identical across messages.
const FIELD_LAYOUT: &str =
    "expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first";

/// A schedule or time zone that could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ScheduleError {
    #[error("empty schedule; {FIELD_LAYOUT}, or a macro such as @daily")]
    Empty,

    #[error("{FIELD_LAYOUT}; found {found}")]
    FieldCount { found: usize },

    #[error("unknown macro \"{written}\"{}; expected one of {}", did_you_mean(suggestion.as_deref()), MACRO_NAMES.join(", "))]
    UnknownMacro {
        written: String,
        suggestion: Option<String>,
    },

    #[error(
        "@reboot is not supported: jobs run on time schedules, not when a machine starts; use a timed schedule such as @daily"
    )]
    Reboot,

    #[error("macro {name} takes no further fields; found \"{written}\"")]
    MacroWithFields { name: String, written: String },

    #[error("{field}: {problem}")]
    Field { field: Field, problem: FieldProblem },

    #[error("schedule \"{written}\" never fires: none of its months has the day-of-month it names")]
    NeverFires { written: String },

    #[error("unknown time zone \"{written}\"; {}", match suggestion {
        Some(name) => format!("did you mean \"{name}\"?"),
        None => "expected an IANA name such as Europe/Berlin".to_owned(),
    })]
    UnknownTimeZone {
        written: String,
        suggestion: Option<String>,
    },

    /// Should be unreachable: our own translation was refused by the evaluator.
    /// Kept as an error rather than a panic so a job file can never crash the tool.
    #[error(
        "schedule \"{written}\" could not be prepared for evaluation; this is a bug in chatvault"
    )]
    Untranslatable { written: String },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// The position of a field in the expression, named as crontab(5) names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// What is wrong inside one field. Values are kept as written so the message
/// quotes the user rather than a normalised form.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FieldProblem {
    #[error("{written} is out of range {min}-{max}")]
    OutOfRange { written: String, min: u32, max: u32 },

    #[error("step 0 must be at least 1")]
    ZeroStep,

    /// Worded without a "1-n" range: for day-of-week that would read like the
    /// 1-7 numbering users must not be led to.
    #[error("step {written} is too large; at most {largest} fits in {min}-{max}")]
    StepTooLarge {
        written: String,
        largest: u32,
        min: u32,
        max: u32,
    },

    #[error("\"{written}\" is not a number; expected {min}-{max}")]
    NotANumber { written: String, min: u32, max: u32 },

    #[error("unknown name \"{written}\"{}; expected {expected}", did_you_mean(suggestion.as_deref()))]
    UnknownName {
        written: String,
        expected: &'static str,
        suggestion: Option<String>,
    },

    #[error(
        "range {written} runs backwards; write the low end first, and split a range that wraps around into two, e.g. 22-23,0-2"
    )]
    Backwards { written: String },

    #[error("empty list item in \"{written}\"")]
    EmptyItem { written: String },

    #[error(
        "cannot read \"{written}\"; expected a number, a range a-b, a list a,b, or a step */n or a-b/n"
    )]
    Malformed { written: String },
}

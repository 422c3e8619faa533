//! The user-facing cron dialect (crontab(5), Vixie style) and its translation
//! into expressions the `cron` crate evaluates.
//!
//! Every field is expanded here into an explicit set of values and then written
//! out again as a plain list, so none of the `cron` crate's own conventions
//! (seconds first, 1 = Sunday, how it reads steps) can change what a user's
//! expression means. Day-of-week values are handed over as names for the same
//! reason.

use std::collections::BTreeSet;

use super::error::{Field, FieldProblem, MACRO_NAMES, ScheduleError};
use crate::suggest::closest;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Longest day each month can have, counting leap years: a schedule that only
/// fits a leap day still fires, just rarely.
const LONGEST_MONTH_DAY: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The legal values of one field and, where crontab(5) allows them, the names
/// that stand for its lowest values onwards.
struct Domain {
    field: Field,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    expected_names: &'static str,
}

const SECOND: Domain = Domain {
    field: Field::Second,
    min: 0,
    max: 59,
    names: &[],
    expected_names: "",
};
const MINUTE: Domain = Domain {
    field: Field::Minute,
    min: 0,
    max: 59,
    names: &[],
    expected_names: "",
};
const HOUR: Domain = Domain {
    field: Field::Hour,
    min: 0,
    max: 23,
    names: &[],
    expected_names: "",
};
const DAY_OF_MONTH: Domain = Domain {
    field: Field::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
    expected_names: "",
};
const MONTH: Domain = Domain {
    field: Field::Month,
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    expected_names: "JAN-DEC or 1-12",
};
/// 0-7 because crontab(5) lets both 0 and 7 mean Sunday.
const DAY_OF_WEEK: Domain = Domain {
    field: Field::DayOfWeek,
    min: 0,
    max: 7,
    names: &DAY_NAMES,
    expected_names: "SUN-SAT or 0-7",
};

/// A parsed expression, as sets of values in crontab(5) numbering
/// (day-of-week 0-6 with Sunday = 0, after folding 7 into 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub seconds: BTreeSet<u32>,
    pub minutes: BTreeSet<u32>,
    pub hours: BTreeSet<u32>,
    pub days_of_month: BTreeSet<u32>,
    pub months: BTreeSet<u32>,
    pub days_of_week: BTreeSet<u32>,
    /// Whether the field was written as something other than a bare `*`;
    /// decides between AND and OR of the two day fields.
    pub dom_restricted: bool,
    pub dow_restricted: bool,
}

/// Reads a whole expression (macro, five fields, or six with seconds).
pub(crate) fn parse(expr: &str) -> Result<Fields, ScheduleError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if trimmed.starts_with('@') {
        return parse(expand_macro(trimmed)?);
    }
    let tokens: Vec<&str> = trimmed.split_whitespace().collect();
    let (second, rest) = match tokens.as_slice() {
        [_, _, _, _, _] => ("0", tokens.as_slice()),
        [second, rest @ ..] if rest.len() == 5 => (*second, rest),
        _ => {
            return Err(ScheduleError::FieldCount {
                found: tokens.len(),
            });
        }
    };
    let [minute, hour, dom, month, dow] = rest else {
        return Err(ScheduleError::FieldCount {
            found: tokens.len(),
        });
    };
    let fields = Fields {
        seconds: parse_field(&SECOND, second)?,
        minutes: parse_field(&MINUTE, minute)?,
        hours: parse_field(&HOUR, hour)?,
        days_of_month: parse_field(&DAY_OF_MONTH, dom)?,
        months: parse_field(&MONTH, month)?,
        days_of_week: parse_field(&DAY_OF_WEEK, dow)?
            .into_iter()
            .map(|day| day % 7)
            .collect(),
        dom_restricted: *dom != "*",
        dow_restricted: *dow != "*",
    };
    if !fields.can_fire() {
        return Err(ScheduleError::NeverFires {
            written: expr.to_owned(),
        });
    }
    Ok(fields)
}

fn expand_macro(text: &str) -> Result<&'static str, ScheduleError> {
    let mut words = text.split_whitespace();
    let word = words.next().unwrap_or(text);
    let lower = word.to_ascii_lowercase();
    let expansion = match lower.as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        "@reboot" => return Err(ScheduleError::Reboot),
        _ => {
            return Err(ScheduleError::UnknownMacro {
                written: word.to_owned(),
                suggestion: closest(&lower, MACRO_NAMES.iter().copied(), 2).map(str::to_owned),
            });
        }
    };
    if words.next().is_some() {
        return Err(ScheduleError::MacroWithFields {
            name: lower,
            written: text.to_owned(),
        });
    }
    Ok(expansion)
}

fn parse_field(domain: &Domain, text: &str) -> Result<BTreeSet<u32>, ScheduleError> {
    parse_items(domain, text).map_err(|problem| ScheduleError::Field {
        field: domain.field,
        problem,
    })
}

fn parse_items(domain: &Domain, text: &str) -> Result<BTreeSet<u32>, FieldProblem> {
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(FieldProblem::EmptyItem {
                written: text.to_owned(),
            });
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, parse_step(domain, item, step)?),
            None => (item, 1),
        };
        let (start, end) = if base == "*" {
            (domain.min, domain.max)
        } else if let Some((low, high)) = base.split_once('-') {
            let start = parse_value(domain, item, low)?;
            let mut end = parse_value(domain, item, high)?;
            // `SAT-SUN` reads naturally as the weekend; SUN is 7 at the end of a range.
            if domain.field == Field::DayOfWeek && end == 0 && start > 0 && !is_number(high) {
                end = 7;
            }
            if start > end {
                return Err(FieldProblem::Backwards {
                    written: base.to_owned(),
                });
            }
            (start, end)
        } else {
            let start = parse_value(domain, item, base)?;
            // `a/n` runs from a to the field's maximum, as in cronie.
            let end = if item.contains('/') {
                domain.max
            } else {
                start
            };
            (start, end)
        };
        values.extend((start..=end).step_by(step));
    }
    Ok(values)
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_step(domain: &Domain, item: &str, text: &str) -> Result<usize, FieldProblem> {
    if !is_number(text) {
        return Err(FieldProblem::Malformed {
            written: item.to_owned(),
        });
    }
    let widest = domain.max - domain.min;
    let too_large = || FieldProblem::StepTooLarge {
        written: text.to_owned(),
        largest: widest,
        min: domain.min,
        max: domain.max,
    };
    match text.parse::<u32>() {
        Ok(0) => Err(FieldProblem::ZeroStep),
        Ok(step) if step <= widest => usize::try_from(step).map_err(|_| too_large()),
        _ => Err(too_large()),
    }
}

fn parse_value(domain: &Domain, item: &str, text: &str) -> Result<u32, FieldProblem> {
    if is_number(text) {
        return match text.parse::<u32>() {
            Ok(value) if (domain.min..=domain.max).contains(&value) => Ok(value),
            _ => Err(FieldProblem::OutOfRange {
                written: text.to_owned(),
                min: domain.min,
                max: domain.max,
            }),
        };
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(FieldProblem::Malformed {
            written: item.to_owned(),
        });
    }
    if domain.names.is_empty() {
        return Err(FieldProblem::NotANumber {
            written: text.to_owned(),
            min: domain.min,
            max: domain.max,
        });
    }
    let upper = text.to_ascii_uppercase();
    if let Some(index) = domain.names.iter().position(|name| *name == upper) {
        return u32::try_from(index)
            .map(|index| domain.min + index)
            .map_err(|_| FieldProblem::Malformed {
                written: item.to_owned(),
            });
    }
    Err(FieldProblem::UnknownName {
        written: text.to_owned(),
        expected: domain.expected_names,
        suggestion: suggest_name(domain, &upper),
    })
}

/// People write `MONDAY` or `Sept`; point them at the three-letter name.
fn suggest_name(domain: &Domain, upper: &str) -> Option<String> {
    let by_prefix = domain
        .names
        .iter()
        .find(|name| upper.len() > name.len() && upper.starts_with(**name));
    let by_spelling = || closest(&upper.to_ascii_lowercase(), domain.names.iter().copied(), 1);
    by_prefix.copied().or_else(by_spelling).map(str::to_owned)
}

impl Fields {
    /// Only the day-of-month/month pairing can make an expression impossible,
    /// and only when day-of-week does not offer days of its own.
    fn can_fire(&self) -> bool {
        if self.dow_restricted {
            return true;
        }
        self.months.iter().any(|&month| {
            let longest = usize::try_from(month)
                .ok()
                .and_then(|m| m.checked_sub(1))
                .and_then(|i| LONGEST_MONTH_DAY.get(i))
                .copied()
                .unwrap_or(0);
            self.days_of_month.iter().any(|&day| day <= longest)
        })
    }

    /// Expressions in the `cron` crate's dialect whose merged firings are this
    /// schedule. Two are needed when both day fields are restricted, because
    /// the `cron` crate always ANDs them while crontab(5) then wants OR.
    pub(crate) fn to_cron_dialect(&self) -> Vec<String> {
        let time = format!(
            "{} {} {}",
            list(&self.seconds),
            list(&self.minutes),
            list(&self.hours)
        );
        let months = list(&self.months);
        let doms = list(&self.days_of_month);
        let dows = self
            .days_of_week
            .iter()
            .filter_map(|&day| usize::try_from(day).ok().and_then(|d| DAY_NAMES.get(d)))
            .copied()
            .collect::<Vec<_>>()
            .join(",");
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => vec![
                format!("{time} {doms} {months} *"),
                format!("{time} * {months} {dows}"),
            ],
            (true, false) => vec![format!("{time} {doms} {months} *")],
            (false, true) => vec![format!("{time} * {months} {dows}")],
            (false, false) => vec![format!("{time} * {months} *")],
        }
    }
}

fn list(values: &BTreeSet<u32>) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

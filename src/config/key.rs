//! Object-key templates: the `destination.key` setting of a job.
//!
//! This module owns the template language for archive object keys: parsing and
//! validating a template once, when job files are checked, and rendering it for
//! each archive. A key is relative to the destination's prefix, so every rule
//! here exists to make sure a key can never escape that prefix and that two
//! archives never get the same key.
//!
//! # Placeholders
//!
//! | Placeholder | Renders as |
//! |---|---|
//! | `{job}` | the job name |
//! | `{window_start}`, `{window_start:FMT}` | start of the archive window, UTC |
//! | `{window_end}`, `{window_end:FMT}` | end of the archive window, UTC |
//! | `{batch}` | 1-based batch number within the window, zero-padded to 4 digits (`0001`) |
//! | `{kind}` | what was exported: `channels` or `users` |
//! | `{task_id}` | the Stream export task id |
//! | `{ext}` | file extension chosen by the caller, such as `jsonl.zst` |
//!
//! `FMT` is a chrono strftime format; without one the window bounds render as
//! `%Y%m%dT%H%M%SZ` (`20240102T030405Z`), which sorts lexically and needs no
//! characters that are awkward in object stores. Batches beyond 9999 simply
//! grow wider, because truncating would make keys collide.
//!
//! `{task_id}` is only known once the export exists; rendering without one
//! leaves the literal text `{task_id}` so a dry-run plan can still show the
//! shape of the key.
//!
//! # Rules
//!
//! Literal text, format output and placeholder values may only use
//! `A-Z a-z 0-9 / . _ - =`: these need no escaping in S3, GCS or a local file
//! system. Placeholder values other than the window bounds may not contain
//! `/`, so a job name or task id cannot add directories. There are no brace
//! escapes, since braces are unsafe in keys anyway. A key may not start or end
//! with `/`, contain `//`, or have a `.` or `..` segment, and a rendered key is
//! at most 1024 bytes (the S3 limit). The template must also distinguish
//! windows, batches and kinds; see [`KeyTemplateError::MissingWindow`] and its
//! neighbours.
//!
//! Columns in error messages count characters from 1.

use std::fmt;
use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};

use crate::suggest::did_you_mean;

/// S3 rejects longer keys; GCS allows the same length, so one limit fits all.
pub const MAX_KEY_BYTES: usize = 1024;

/// Used when a window placeholder has no format: compact, sortable and safe.
pub const DEFAULT_WINDOW_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// What literal text and format output may contain, for messages.
const KEY_CHARS: &str = "A-Z a-z 0-9 / . _ - =";
/// What a single placeholder value may contain, for messages.
const VALUE_CHARS: &str = "A-Z a-z 0-9 . _ - =";

/// A template placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Job,
    WindowStart,
    WindowEnd,
    Batch,
    Kind,
    TaskId,
    Ext,
}

impl Placeholder {
    /// In the order messages list them.
    pub const ALL: [Placeholder; 7] = [
        Placeholder::Job,
        Placeholder::WindowStart,
        Placeholder::WindowEnd,
        Placeholder::Batch,
        Placeholder::Kind,
        Placeholder::TaskId,
        Placeholder::Ext,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Job => "job",
            Placeholder::WindowStart => "window_start",
            Placeholder::WindowEnd => "window_end",
            Placeholder::Batch => "batch",
            Placeholder::Kind => "kind",
            Placeholder::TaskId => "task_id",
            Placeholder::Ext => "ext",
        }
    }

    /// Only the window bounds are dates; every other value is used verbatim.
    pub fn takes_format(self) -> bool {
        matches!(self, Placeholder::WindowStart | Placeholder::WindowEnd)
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Shows the placeholder as it is written in a template, e.g. `{job}`.
impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// A way a key's path shape could escape the prefix or name a non-object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    LeadingSlash,
    /// Top-level folders starting with `_` are chatvault's own (captured files under
    /// `_media/`): listings of archives never walk into them.
    LeadingUnderscore,
    TrailingSlash,
    EmptySegment,
    DotSegment(String),
}

impl PathProblem {
    /// The "what is expected" half of a message; `Display` is what was found.
    pub fn expected(&self) -> &'static str {
        match self {
            PathProblem::Empty => "at least one character",
            PathProblem::LeadingSlash => {
                "a relative key, because keys sit under the destination prefix; remove the leading `/`"
            }
            PathProblem::LeadingUnderscore => {
                "a key that does not start with `_`, because top-level folders starting with `_` are chatvault's own (captured files go to `_media/`) and listings of archives skip them"
            }
            PathProblem::TrailingSlash => "a file name after the last `/`",
            PathProblem::EmptySegment => "exactly one `/` between path segments",
            PathProblem::DotSegment(_) => {
                "a name, because `.` and `..` segments could escape the destination prefix"
            }
        }
    }
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("is empty"),
            PathProblem::LeadingSlash => f.write_str("starts with `/`"),
            PathProblem::LeadingUnderscore => f.write_str("starts with `_`"),
            PathProblem::TrailingSlash => f.write_str("ends with `/`"),
            PathProblem::EmptySegment => f.write_str("has an empty path segment (`//`)"),
            PathProblem::DotSegment(segment) => write!(f, "has a path segment `{segment}`"),
        }
    }
}

/// A problem with a template or with one rendering of it; `Display` is the
/// message shown to the person who wrote the job file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeyTemplateError {
    /// The template is the empty string.
    Empty,
    /// `{name}` is not a placeholder; `suggestion` is the closest one, if any.
    UnknownPlaceholder {
        name: String,
        suggestion: Option<Placeholder>,
        column: usize,
    },
    /// A `{` with no `}` before the next `{` or the end.
    UnclosedBrace { column: usize },
    /// A `}` that closes nothing.
    StrayClosingBrace { column: usize },
    /// `{job:%Y}`: a format on a placeholder that is not a date.
    UnexpectedFormat {
        placeholder: Placeholder,
        format: String,
        column: usize,
    },
    /// `{window_start:}`: a colon with nothing after it.
    EmptyFormat {
        placeholder: Placeholder,
        column: usize,
    },
    /// chrono cannot parse the strftime format.
    InvalidFormat {
        placeholder: Placeholder,
        format: String,
        column: usize,
    },
    /// The format renders characters unsafe in keys, as seen in `sample`.
    UnsafeFormat {
        placeholder: Placeholder,
        format: String,
        sample: String,
        ch: char,
        column: usize,
    },
    /// A literal character outside the allowed set.
    UnsafeCharacter { ch: char, column: usize },
    /// The template's path shape is unsafe.
    Path { problem: PathProblem, column: usize },
    /// The literal text alone exceeds [`MAX_KEY_BYTES`].
    TemplateTooLong { literal_bytes: usize },
    /// No window placeholder and no task id, so each window overwrites the last.
    MissingWindow,
    /// No batch and no task id, so batches of a window overwrite each other.
    MissingBatch,
    /// No kind and no task id, so channels and users archives overwrite each other.
    MissingKind,
    /// Rendering was asked for batch 0, but batches count from 1.
    BatchZero,
    /// A placeholder value rendered as the empty string.
    EmptyValue { placeholder: Placeholder },
    /// A placeholder value holds a character that is unsafe in keys (or a `/`
    /// where only a window format may add directories).
    UnsafeValue {
        placeholder: Placeholder,
        value: String,
        ch: char,
    },
    /// chrono reported an error while formatting a window bound.
    FormatFailed { placeholder: Placeholder },
    /// The rendered key's path shape is unsafe.
    RenderedPath { key: String, problem: PathProblem },
    /// The rendered key exceeds [`MAX_KEY_BYTES`].
    KeyTooLong { bytes: usize },
}

/// For "expected one of ..." in messages.
struct PlaceholderList;

impl fmt::Display for PlaceholderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in Placeholder::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for KeyTemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeyTemplateError as E;
        match self {
            E::Empty => write!(
                f,
                "key template is empty; expected a path such as \
                 `{{job}}/{{window_start:%Y/%m/%d}}/{{kind}}-{{batch}}.{{ext}}`"
            ),
            E::UnknownPlaceholder {
                name,
                suggestion,
                column,
            } => {
                if name.is_empty() {
                    write!(f, "empty placeholder {{}} at column {column}")?;
                } else {
                    write!(f, "unknown placeholder {{{name}}} at column {column}")?;
                }
                match suggestion {
                    Some(s) => write!(f, "; did you mean {s}? Expected one of {PlaceholderList}"),
                    None => write!(f, "; expected one of {PlaceholderList}"),
                }
            }
            E::UnclosedBrace { column } => write!(
                f,
                "unclosed `{{` at column {column}; expected a placeholder closed by `}}` \
                 (braces cannot appear literally in a key)"
            ),
            E::StrayClosingBrace { column } => write!(
                f,
                "stray `}}` at column {column} closes no placeholder; expected a placeholder \
                 opened by `{{` (braces cannot appear literally in a key)"
            ),
            E::UnexpectedFormat {
                placeholder,
                format,
                column,
            } => write!(
                f,
                "placeholder {placeholder} at column {column} has format `{format}` but takes none; \
                 only {{window_start}} and {{window_end}} accept a strftime format"
            ),
            E::EmptyFormat {
                placeholder,
                column,
            } => write!(
                f,
                "placeholder {placeholder} at column {column} has an empty format after `:`; \
                 expected a strftime format such as `%Y/%m/%d`, or no `:` for the default \
                 `{DEFAULT_WINDOW_FORMAT}`"
            ),
            E::InvalidFormat {
                placeholder,
                format,
                column,
            } => write!(
                f,
                "invalid strftime format `{format}` in {placeholder} at column {column}; \
                 expected chrono strftime specifiers such as %Y, %m, %d, %H"
            ),
            E::UnsafeFormat {
                placeholder,
                format,
                sample,
                ch,
                column,
            } => write!(
                f,
                "format `{format}` in {placeholder} at column {column} renders {ch:?} \
                 (e.g. `{sample}`), which is unsafe in keys; expected output using only {KEY_CHARS}"
            ),
            E::UnsafeCharacter { ch, column } => write!(
                f,
                "character {ch:?} at column {column} is not allowed in a key; \
                 expected only {KEY_CHARS}"
            ),
            E::Path { problem, column } => write!(
                f,
                "key template {problem} at column {column}; expected {}",
                problem.expected()
            ),
            E::TemplateTooLong { literal_bytes } => write!(
                f,
                "key template has {literal_bytes} bytes of literal text; \
                 expected rendered keys of at most {MAX_KEY_BYTES} bytes"
            ),
            E::MissingWindow => write!(
                f,
                "key template has none of {{window_start}}, {{window_end}} or {{task_id}}, \
                 so every window would overwrite the last; add {{window_start}}"
            ),
            E::MissingBatch => write!(
                f,
                "key template has neither {{batch}} nor {{task_id}}, \
                 so batches of one window would overwrite each other; add {{batch}}"
            ),
            E::MissingKind => write!(
                f,
                "key template has neither {{kind}} nor {{task_id}}, so the channels and users \
                 archives of a window would overwrite each other; add {{kind}}"
            ),
            E::BatchZero => write!(
                f,
                "batch number 0 given for {{batch}}; expected a batch number counted from 1"
            ),
            E::EmptyValue { placeholder } => write!(
                f,
                "value for {placeholder} is empty; expected at least one character"
            ),
            E::UnsafeValue {
                placeholder,
                value,
                ch,
            } => {
                let allowed = if placeholder.takes_format() {
                    KEY_CHARS
                } else {
                    VALUE_CHARS
                };
                write!(
                    f,
                    "value `{value}` for {placeholder} contains {ch:?}, which is not allowed \
                     there; expected only {allowed}"
                )
            }
            E::FormatFailed { placeholder } => write!(
                f,
                "chrono could not format {placeholder}; expected a format checked by parsing"
            ),
            E::RenderedPath { key, problem } => write!(
                f,
                "rendered key `{key}` {problem}; expected {}",
                problem.expected()
            ),
            E::KeyTooLong { bytes } => write!(
                f,
                "rendered key is {bytes} bytes; expected at most {MAX_KEY_BYTES} bytes"
            ),
        }
    }
}

/// Everything a rendering needs to know about one archive.
#[derive(Clone, Copy, Debug)]
pub struct KeyContext<'a> {
    pub job: &'a str,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub batch: u32,
    pub kind: &'a str,
    pub task_id: Option<&'a str>,
    pub ext: &'a str,
}

#[derive(Clone, Debug)]
enum Part {
    Literal(String),
    /// A placeholder used verbatim (everything but the window bounds).
    Value(Placeholder),
    /// A window bound with its format already parsed, so rendering cannot meet
    /// a format error that parsing missed.
    Time {
        placeholder: Placeholder,
        items: Vec<Item<'static>>,
    },
}

/// A parsed, validated `destination.key`.
#[derive(Clone, Debug)]
pub struct KeyTemplate {
    source: String,
    parts: Vec<Part>,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '=')
}

fn is_value_char(c: char) -> bool {
    c != '/' && is_key_char(c)
}

/// Every path-shape problem of `key`, with the byte offset where it shows.
fn path_problems(key: &str) -> Vec<(usize, PathProblem)> {
    if key.is_empty() {
        return vec![(0, PathProblem::Empty)];
    }
    let mut out = Vec::new();
    if key.starts_with('_') {
        out.push((0, PathProblem::LeadingUnderscore));
    }
    let mut start = 0;
    for segment in key.split('/') {
        let end = start + segment.len();
        match segment {
            "" if start == 0 => out.push((0, PathProblem::LeadingSlash)),
            "" if end == key.len() => out.push((end - 1, PathProblem::TrailingSlash)),
            // `start` is just after the first slash, i.e. at the second one.
            "" => out.push((start, PathProblem::EmptySegment)),
            "." | ".." => out.push((start, PathProblem::DotSegment(segment.to_owned()))),
            _ => {}
        }
        start = end + 1;
    }
    out
}

/// A date whose fields are all non-zero, so formats like `%.f` show their
/// output when checked.
fn sample_date() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_164_645, 123_456_789).unwrap_or_default()
}

fn format_time(
    placeholder: Placeholder,
    items: &[Item<'static>],
    at: DateTime<Utc>,
) -> Result<String, KeyTemplateError> {
    let mut out = String::new();
    // `write!` rather than `to_string`: the latter panics on a formatting error.
    write!(out, "{}", at.format_with_items(items.iter()))
        .map_err(|_| KeyTemplateError::FormatFailed { placeholder })?;
    Ok(out)
}

fn suggest(name: &str) -> Option<Placeholder> {
    let wanted = name.trim().replace('-', "_");
    let found = did_you_mean(&wanted, Placeholder::ALL.map(Placeholder::name))?;
    Placeholder::ALL.into_iter().find(|p| p.name() == found)
}

/// Accumulates a template while parsing, plus a "skeleton" of it (placeholders
/// replaced by sample output) so path shape can be checked on something close
/// to a real key, with each skeleton byte mapped back to a source column.
#[derive(Default)]
struct Builder {
    parts: Vec<Part>,
    literal: String,
    literal_bytes: usize,
    skeleton: String,
    skeleton_columns: Vec<usize>,
    errors: Vec<KeyTemplateError>,
    /// Placeholders the author probably meant (misspelt or left unclosed),
    /// so "did you mean {window_start}?" is not followed by "add
    /// {window_start}".
    suggested: Vec<Placeholder>,
}

impl Builder {
    fn push_skeleton(&mut self, text: &str, column: usize) {
        self.skeleton.push_str(text);
        self.skeleton_columns
            .extend(std::iter::repeat_n(column, text.len()));
    }

    fn push_literal(&mut self, c: char, column: usize) {
        if !is_key_char(c) {
            self.errors
                .push(KeyTemplateError::UnsafeCharacter { ch: c, column });
        }
        self.literal.push(c);
        self.literal_bytes += c.len_utf8();
        let mut buf = [0; 4];
        self.push_skeleton(c.encode_utf8(&mut buf), column);
    }

    fn flush_literal(&mut self) {
        if !self.literal.is_empty() {
            self.parts
                .push(Part::Literal(std::mem::take(&mut self.literal)));
        }
    }

    /// Stands in for a broken placeholder so it causes no extra path errors.
    fn push_broken(&mut self, column: usize) {
        self.push_skeleton("x", column);
    }

    fn push_placeholder(&mut self, inner: &str, column: usize) {
        self.flush_literal();
        let (name, format) = match inner.split_once(':') {
            Some((name, format)) => (name, Some(format)),
            None => (inner, None),
        };
        let Some(placeholder) = Placeholder::from_name(name) else {
            let suggestion = suggest(name);
            self.suggested.extend(suggestion);
            self.errors.push(KeyTemplateError::UnknownPlaceholder {
                name: name.to_owned(),
                suggestion,
                column,
            });
            self.push_broken(column);
            return;
        };
        if !placeholder.takes_format() {
            if let Some(format) = format {
                self.errors.push(KeyTemplateError::UnexpectedFormat {
                    placeholder,
                    format: format.to_owned(),
                    column,
                });
            }
            self.parts.push(Part::Value(placeholder));
            self.push_broken(column);
            return;
        }
        let fmt = match format {
            None => DEFAULT_WINDOW_FORMAT,
            Some("") => {
                self.errors.push(KeyTemplateError::EmptyFormat {
                    placeholder,
                    column,
                });
                DEFAULT_WINDOW_FORMAT
            }
            Some(f) => f,
        };
        let items: Vec<Item<'static>> = StrftimeItems::new(fmt).map(Item::to_owned).collect();
        let mut sample = None;
        if items.iter().any(|i| matches!(i, Item::Error)) {
            self.errors.push(KeyTemplateError::InvalidFormat {
                placeholder,
                format: fmt.to_owned(),
                column,
            });
        } else {
            match format_time(placeholder, &items, sample_date()) {
                Err(e) => self.errors.push(e),
                Ok(text) => match text.chars().find(|c| !is_key_char(*c)) {
                    Some(ch) => self.errors.push(KeyTemplateError::UnsafeFormat {
                        placeholder,
                        format: fmt.to_owned(),
                        sample: text,
                        ch,
                        column,
                    }),
                    None => sample = Some(text),
                },
            }
        }
        match sample {
            Some(text) => self.push_skeleton(&text, column),
            None => self.push_broken(column),
        }
        self.parts.push(Part::Time { placeholder, items });
    }

    /// `{batch` most likely meant `{batch}`; remember that so the missing
    /// brace is not also reported as a missing placeholder.
    fn note_unclosed(&mut self, inner: &str) {
        let name = inner.split(':').next().unwrap_or_default();
        let name: String = name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            self.suggested
                .extend(Placeholder::from_name(&name).or_else(|| suggest(&name)));
        }
    }

    fn uses(&self, p: Placeholder) -> bool {
        self.parts.iter().any(|part| part_is(part, p)) || self.suggested.contains(&p)
    }

    fn finish(mut self, source: &str) -> Result<KeyTemplate, Vec<KeyTemplateError>> {
        self.flush_literal();
        for (offset, problem) in path_problems(&self.skeleton) {
            let column = self.skeleton_columns.get(offset).copied().unwrap_or(1);
            self.errors.push(KeyTemplateError::Path { problem, column });
        }
        if self.literal_bytes > MAX_KEY_BYTES {
            self.errors.push(KeyTemplateError::TemplateTooLong {
                literal_bytes: self.literal_bytes,
            });
        }
        let task = self.uses(Placeholder::TaskId);
        if !(task || self.uses(Placeholder::WindowStart) || self.uses(Placeholder::WindowEnd)) {
            self.errors.push(KeyTemplateError::MissingWindow);
        }
        if !(task || self.uses(Placeholder::Batch)) {
            self.errors.push(KeyTemplateError::MissingBatch);
        }
        if !(task || self.uses(Placeholder::Kind)) {
            self.errors.push(KeyTemplateError::MissingKind);
        }
        if self.errors.is_empty() {
            Ok(KeyTemplate {
                source: source.to_owned(),
                parts: self.parts,
            })
        } else {
            Err(self.errors)
        }
    }
}

fn part_is(part: &Part, p: Placeholder) -> bool {
    match part {
        Part::Literal(_) => false,
        Part::Value(q) => *q == p,
        Part::Time { placeholder, .. } => *placeholder == p,
    }
}

/// Rejects values that would add directories, escape characters or vanish.
fn check_value(placeholder: Placeholder, value: &str) -> Result<(), KeyTemplateError> {
    if value.is_empty() {
        return Err(KeyTemplateError::EmptyValue { placeholder });
    }
    match value.chars().find(|c| !is_value_char(*c)) {
        Some(ch) => Err(KeyTemplateError::UnsafeValue {
            placeholder,
            value: value.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

impl KeyTemplate {
    /// Reports every problem at once, so a job file can be fixed in one pass.
    pub fn parse(source: &str) -> Result<KeyTemplate, Vec<KeyTemplateError>> {
        if source.is_empty() {
            return Err(vec![KeyTemplateError::Empty]);
        }
        let chars: Vec<(usize, char)> = source.char_indices().collect();
        let mut b = Builder::default();
        let mut i = 0;
        while let Some(&(byte, c)) = chars.get(i) {
            let column = i + 1;
            match c {
                '}' => {
                    b.errors
                        .push(KeyTemplateError::StrayClosingBrace { column });
                    b.flush_literal();
                    b.push_broken(column);
                    i += 1;
                }
                '{' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&(_, c)| c == '}' || c == '{')
                        .map(|n| i + 1 + n);
                    match close.and_then(|j| chars.get(j).map(|&(end, c)| (j, end, c))) {
                        Some((j, end, '}')) => {
                            b.push_placeholder(&source[byte + 1..end], column);
                            i = j + 1;
                        }
                        other => {
                            let end = other.map_or(source.len(), |(_, end, _)| end);
                            b.note_unclosed(&source[byte + 1..end]);
                            b.errors.push(KeyTemplateError::UnclosedBrace { column });
                            b.flush_literal();
                            b.push_broken(column);
                            // Resume at the next `{`, or stop at the end.
                            i = other.map_or(chars.len(), |(j, _, _)| j);
                        }
                    }
                }
                c => {
                    b.push_literal(c, column);
                    i += 1;
                }
            }
        }
        b.finish(source)
    }

    /// The template as written, for messages and plans.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.iter().any(|part| part_is(part, p))
    }

    /// Whether keys differ between jobs; jobs sharing a destination need this
    /// (or distinct prefixes) to avoid overwriting each other's archives.
    pub fn is_job_scoped(&self) -> bool {
        self.uses(Placeholder::Job)
    }

    /// Renders the key for one archive. Values come from outside the job file
    /// (job names, Stream task ids), so the result is checked again and an
    /// error returned rather than a key that could escape the prefix.
    ///
    /// `task_id: None` leaves the literal text `{task_id}`, for dry-run plans.
    pub fn render(&self, ctx: &KeyContext) -> Result<String, KeyTemplateError> {
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Time { placeholder, items } => {
                    let at = match placeholder {
                        Placeholder::WindowEnd => ctx.window_end,
                        _ => ctx.window_start,
                    };
                    let text = format_time(*placeholder, items, at)?;
                    // Safe for the sample date, yet e.g. years past 9999 gain a `+`.
                    if let Some(ch) = text.chars().find(|c| !is_key_char(*c)) {
                        return Err(KeyTemplateError::UnsafeValue {
                            placeholder: *placeholder,
                            value: text,
                            ch,
                        });
                    }
                    key.push_str(&text);
                }
                Part::Value(Placeholder::Batch) => {
                    if ctx.batch == 0 {
                        return Err(KeyTemplateError::BatchZero);
                    }
                    // Infallible for String.
                    let _ = write!(key, "{:04}", ctx.batch);
                }
                Part::Value(Placeholder::TaskId) if ctx.task_id.is_none() => {
                    let _ = write!(key, "{}", Placeholder::TaskId);
                }
                Part::Value(p) => {
                    let value = match p {
                        Placeholder::Job => ctx.job,
                        Placeholder::Kind => ctx.kind,
                        Placeholder::TaskId => ctx.task_id.unwrap_or_default(),
                        Placeholder::Ext => ctx.ext,
                        // Not produced by `parse` as `Value`; handled above.
                        Placeholder::WindowStart | Placeholder::WindowEnd | Placeholder::Batch => {
                            ""
                        }
                    };
                    check_value(*p, value)?;
                    key.push_str(value);
                }
            }
        }
        if let Some((_, problem)) = path_problems(&key).into_iter().next() {
            return Err(KeyTemplateError::RenderedPath { key, problem });
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyTemplateError::KeyTooLong { bytes: key.len() });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const DEFAULT_STYLE: &str = "{job}/{window_start:%Y/%m/%d}/{kind}-{batch}.{ext}";

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
    }

    fn ctx<'a>() -> KeyContext<'a> {
        KeyContext {
            job: "nightly",
            window_start: at(2024, 1, 2, 3, 4, 5),
            window_end: at(2024, 1, 3, 3, 4, 5),
            batch: 7,
            kind: "channels",
            task_id: Some("task-123"),
            ext: "jsonl.zst",
        }
    }

    fn parse(source: &str) -> KeyTemplate {
        KeyTemplate::parse(source).unwrap()
    }

    fn errors(source: &str) -> Vec<KeyTemplateError> {
        KeyTemplate::parse(source).unwrap_err()
    }

    fn messages(source: &str) -> Vec<String> {
        errors(source).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn renders_default_style_template_with_date_format() {
        let t = parse(DEFAULT_STYLE);
        assert_eq!(
            t.render(&ctx()).unwrap(),
            "nightly/2024/01/02/channels-0007.jsonl.zst"
        );
        assert_eq!(t.source(), DEFAULT_STYLE);
    }

    #[test]
    fn window_without_format_uses_compact_utc_default() {
        let t = parse("{window_start}_{window_end}/{kind}-{batch}");
        assert_eq!(
            t.render(&ctx()).unwrap(),
            "20240102T030405Z_20240103T030405Z/channels-0007"
        );
    }

    #[test]
    fn batch_is_zero_padded_to_four_digits_and_grows_past_9999() {
        let t = parse("{window_start}/{kind}-{batch}");
        let mut c = ctx();
        c.batch = 1;
        assert!(t.render(&c).unwrap().ends_with("-0001"));
        c.batch = 12345;
        assert!(t.render(&c).unwrap().ends_with("-12345"));
    }

    #[test]
    fn batch_zero_is_rejected() {
        let t = parse("{window_start}/{kind}-{batch}");
        let mut c = ctx();
        c.batch = 0;
        assert_eq!(t.render(&c), Err(KeyTemplateError::BatchZero));
    }

    #[test]
    fn missing_task_id_renders_placeholder_text_for_dry_runs() {
        let t = parse("{job}/{task_id}.{ext}");
        let mut c = ctx();
        assert_eq!(t.render(&c).unwrap(), "nightly/task-123.jsonl.zst");
        c.task_id = None;
        assert_eq!(t.render(&c).unwrap(), "nightly/{task_id}.jsonl.zst");
    }

    #[test]
    fn task_id_alone_distinguishes_windows_batches_and_kinds() {
        assert!(KeyTemplate::parse("exports/{task_id}").is_ok());
    }

    #[test]
    fn uses_and_job_scope_reflect_placeholders() {
        let t = parse(DEFAULT_STYLE);
        assert!(t.uses(Placeholder::WindowStart));
        assert!(!t.uses(Placeholder::TaskId));
        assert!(t.is_job_scoped());
        assert!(!parse("{window_start}/{kind}-{batch}").is_job_scoped());
    }

    #[test]
    fn empty_template_is_rejected() {
        assert_eq!(errors(""), vec![KeyTemplateError::Empty]);
    }

    #[test]
    fn unknown_placeholder_suggests_closest_and_lists_all() {
        let msgs = messages("{job}/{windowstart}/{kind}-{batch}");
        assert_eq!(
            msgs,
            vec![
                "unknown placeholder {windowstart} at column 7; did you mean {window_start}? \
                 Expected one of {job}, {window_start}, {window_end}, {batch}, {kind}, \
                 {task_id}, {ext}"
            ]
        );
    }

    #[test]
    fn unknown_placeholder_without_close_match_has_no_suggestion() {
        let errs = errors("{window_start}/{kind}-{batch}/{zzzz}");
        assert_eq!(
            errs,
            vec![KeyTemplateError::UnknownPlaceholder {
                name: "zzzz".into(),
                suggestion: None,
                column: 31,
            }]
        );
        assert!(
            messages("{}/{window_start}/{kind}-{batch}")[0].starts_with("empty placeholder {}")
        );
    }

    #[test]
    fn unclosed_and_stray_braces_are_reported_with_columns() {
        assert_eq!(
            errors("{window_start}/{kind}-{batch"),
            vec![KeyTemplateError::UnclosedBrace { column: 23 }]
        );
        assert_eq!(
            errors("{window_start}/{kind}-{batch}}"),
            vec![KeyTemplateError::StrayClosingBrace { column: 30 }]
        );
        // An opening brace inside a placeholder leaves the first one unclosed.
        assert_eq!(
            errors("{job/{window_start}/{kind}-{batch}"),
            vec![KeyTemplateError::UnclosedBrace { column: 1 }]
        );
    }

    #[test]
    fn format_on_plain_placeholder_is_rejected() {
        assert_eq!(
            errors("{job:%Y}/{window_start}/{kind}-{batch}"),
            vec![KeyTemplateError::UnexpectedFormat {
                placeholder: Placeholder::Job,
                format: "%Y".into(),
                column: 1,
            }]
        );
    }

    #[test]
    fn invalid_and_empty_strftime_formats_are_rejected() {
        assert_eq!(
            errors("{window_start:%Q}/{kind}-{batch}"),
            vec![KeyTemplateError::InvalidFormat {
                placeholder: Placeholder::WindowStart,
                format: "%Q".into(),
                column: 1,
            }]
        );
        assert_eq!(
            errors("{window_end:}/{kind}-{batch}"),
            vec![KeyTemplateError::EmptyFormat {
                placeholder: Placeholder::WindowEnd,
                column: 1,
            }]
        );
    }

    #[test]
    fn formats_rendering_unsafe_characters_are_rejected() {
        for (format, ch) in [("%c", ' '), ("%+", ':'), ("%Y%z", '+'), ("%H:%M", ':')] {
            let errs = errors(&format!("{{window_start:{format}}}/{{kind}}-{{batch}}"));
            assert!(
                matches!(errs.as_slice(), [KeyTemplateError::UnsafeFormat { ch: c, .. }] if *c == ch),
                "{format}: {errs:?}"
            );
        }
        assert!(KeyTemplate::parse("{window_start:%Z}/{kind}-{batch}").is_ok());
    }

    #[test]
    fn unsafe_literal_characters_name_character_and_column() {
        let msgs = messages("{window_start}/my archive/{kind}-{batch}");
        assert_eq!(
            msgs,
            vec![
                "character ' ' at column 18 is not allowed in a key; \
                 expected only A-Z a-z 0-9 / . _ - ="
            ]
        );
    }

    #[test]
    fn path_shape_errors_are_reported() {
        let path = |source: &str| -> Vec<(PathProblem, usize)> {
            errors(source)
                .into_iter()
                .filter_map(|e| match e {
                    KeyTemplateError::Path { problem, column } => Some((problem, column)),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            path("/{window_start}/{kind}-{batch}"),
            vec![(PathProblem::LeadingSlash, 1)]
        );
        assert_eq!(
            path("{window_start}//{kind}-{batch}"),
            vec![(PathProblem::EmptySegment, 16)]
        );
        assert_eq!(
            path("{window_start}/{kind}-{batch}/"),
            vec![(PathProblem::TrailingSlash, 30)]
        );
        assert_eq!(
            path("../{window_start}/./{kind}-{batch}"),
            vec![
                (PathProblem::DotSegment("..".into()), 1),
                (PathProblem::DotSegment(".".into()), 19),
            ]
        );
        assert_eq!(
            path("_archives/{window_start}/{kind}-{batch}"),
            vec![(PathProblem::LeadingUnderscore, 1)]
        );
        assert!(KeyTemplate::parse("a_{window_start}/_{kind}-{batch}").is_ok());
        // A format can create slashes too.
        assert_eq!(
            path("{window_start:/%Y}/{kind}-{batch}"),
            vec![(PathProblem::LeadingSlash, 1)]
        );
        // Dots next to placeholders are fine.
        assert!(KeyTemplate::parse("{window_start}/..{kind}.{batch}.").is_ok());
    }

    #[test]
    fn each_missing_distinguisher_names_the_placeholder_to_add() {
        assert_eq!(
            errors("{job}/{kind}-{batch}"),
            vec![KeyTemplateError::MissingWindow]
        );
        assert_eq!(
            errors("{window_start}/{kind}"),
            vec![KeyTemplateError::MissingBatch]
        );
        assert_eq!(
            errors("{window_end}/{batch}"),
            vec![KeyTemplateError::MissingKind]
        );
        assert!(
            KeyTemplateError::MissingWindow
                .to_string()
                .ends_with("add {window_start}")
        );
        assert!(
            KeyTemplateError::MissingBatch
                .to_string()
                .ends_with("add {batch}")
        );
        assert!(
            KeyTemplateError::MissingKind
                .to_string()
                .ends_with("add {kind}")
        );
    }

    #[test]
    fn reports_several_errors_at_once() {
        let errs = errors("/{job:%Y}/a b/{windowstart:%c}/{bogus");
        assert_eq!(
            errs,
            vec![
                KeyTemplateError::UnexpectedFormat {
                    placeholder: Placeholder::Job,
                    format: "%Y".into(),
                    column: 2,
                },
                KeyTemplateError::UnsafeCharacter {
                    ch: ' ',
                    column: 12
                },
                KeyTemplateError::UnknownPlaceholder {
                    name: "windowstart".into(),
                    suggestion: Some(Placeholder::WindowStart),
                    column: 15,
                },
                KeyTemplateError::UnclosedBrace { column: 32 },
                KeyTemplateError::Path {
                    problem: PathProblem::LeadingSlash,
                    column: 1,
                },
                KeyTemplateError::MissingBatch,
                KeyTemplateError::MissingKind,
            ]
        );
    }

    #[test]
    fn overlong_literal_text_is_rejected_at_parse() {
        let source = format!("{}/{{window_start}}/{{kind}}-{{batch}}", "a".repeat(1100));
        assert_eq!(
            errors(&source),
            vec![KeyTemplateError::TemplateTooLong {
                literal_bytes: 1103
            }]
        );
    }

    #[test]
    fn overlong_rendered_key_is_rejected() {
        let t = parse("{job}/{window_start}/{kind}-{batch}");
        let job = "j".repeat(1000);
        let mut c = ctx();
        c.job = &job;
        assert_eq!(
            t.render(&c),
            Err(KeyTemplateError::KeyTooLong { bytes: 1031 })
        );
    }

    #[test]
    fn job_name_cannot_add_directories_or_dot_segments() {
        let t = parse(DEFAULT_STYLE);
        let mut c = ctx();
        c.job = "../other";
        assert_eq!(
            t.render(&c),
            Err(KeyTemplateError::UnsafeValue {
                placeholder: Placeholder::Job,
                value: "../other".into(),
                ch: '/',
            })
        );
        c.job = "..";
        assert!(matches!(
            t.render(&c),
            Err(KeyTemplateError::RenderedPath {
                problem: PathProblem::DotSegment(ref s),
                ..
            }) if s == ".."
        ));
        c.job = "";
        assert_eq!(
            t.render(&c),
            Err(KeyTemplateError::EmptyValue {
                placeholder: Placeholder::Job
            })
        );
    }

    #[test]
    fn task_id_cannot_add_directories_dot_segments_or_unsafe_characters() {
        let t = parse("{job}/{task_id}");
        let mut c = ctx();
        for bad in ["a/b", "x y", "{id}"] {
            c.task_id = Some(bad);
            assert!(
                matches!(
                    t.render(&c),
                    Err(KeyTemplateError::UnsafeValue {
                        placeholder: Placeholder::TaskId,
                        ..
                    })
                ),
                "{bad}"
            );
        }
        c.task_id = Some("..");
        assert_eq!(
            t.render(&c),
            Err(KeyTemplateError::RenderedPath {
                key: "nightly/..".into(),
                problem: PathProblem::DotSegment("..".into()),
            })
        );
    }

    #[test]
    fn window_format_output_is_rechecked_at_render() {
        // Years past 9999 render with a sign that the sample date never shows.
        let t = parse("{window_start:%Y}/{kind}-{batch}");
        let mut c = ctx();
        c.window_start = at(12345, 1, 1, 0, 0, 0);
        assert!(matches!(
            t.render(&c),
            Err(KeyTemplateError::UnsafeValue { ch: '+', .. })
        ));
        // `%.f` is empty on whole seconds, which would leave a leading slash.
        let t = parse("{window_start:%.f}/{kind}-{batch}");
        assert!(matches!(
            t.render(&ctx()),
            Err(KeyTemplateError::RenderedPath {
                problem: PathProblem::LeadingSlash,
                ..
            })
        ));
    }

    /// A small xorshift generator, so the run is the same every time.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn garbage_templates_and_values_never_panic() {
        const ALPHABET: &[&str] = &[
            "{",
            "}",
            ":",
            "%",
            "/",
            ".",
            "..",
            "a",
            "Z",
            "9",
            "_",
            "-",
            "=",
            " ",
            "é",
            "\u{0}",
            "job",
            "window_start",
            "window_end",
            "batch",
            "kind",
            "task_id",
            "ext",
            "%Y",
            "%c",
            "%Q",
            "%.f",
            "%",
            "{job}",
            "{batch}",
            "{window_start:",
            "}}",
            "{{",
            "{task_id}",
            "{window_start:%Y/%m}/{kind}-{batch}",
            "{window_end}/{kind}-{batch}",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut parsed = 0;
        for _ in 0..5000 {
            let len = (next(&mut state) % 12) as usize;
            let mut source = String::new();
            for _ in 0..len {
                source.push_str(ALPHABET[(next(&mut state) % ALPHABET.len() as u64) as usize]);
            }
            let value = ALPHABET[(next(&mut state) % ALPHABET.len() as u64) as usize];
            match KeyTemplate::parse(&source) {
                Ok(t) => {
                    parsed += 1;
                    let mut c = ctx();
                    c.job = value;
                    c.task_id = Some(value);
                    c.batch = (next(&mut state) % 3) as u32;
                    c.window_end = DateTime::<Utc>::MAX_UTC;
                    c.window_start = DateTime::<Utc>::MIN_UTC;
                    if let Ok(key) = t.render(&c) {
                        assert!(!key.starts_with('/') && !key.contains("//"), "{key}");
                        assert!(key.split('/').all(|s| s != "." && s != ".."), "{key}");
                        assert!(key.len() <= MAX_KEY_BYTES);
                    }
                }
                Err(errs) => {
                    assert!(!errs.is_empty());
                    for e in errs {
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        assert!(parsed > 0, "the generator should hit some valid templates");
    }
}

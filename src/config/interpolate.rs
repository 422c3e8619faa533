//! `${VAR}` substitution in job and config strings.
//!
//! Forms: `${VAR}`, `${VAR:-default}` (the default when VAR is unset or empty) and `$${` for a
//! literal `${`. A lone `$` is kept as is. Values are never echoed in messages: a value may
//! be a secret, so callers report variable names only.

use thiserror::Error;

/// What the environment offers; a closure so tests never touch the process environment.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Whether any `${…}` was substituted (the text may then hold a secret).
    pub substituted: bool,
    /// Variables that were unset and had no default.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InterpolationError {
    /// `at` counts characters from 1, like every position in messages.
    #[error("unclosed `${{` at character {at}: expected `${{NAME}}` or `${{NAME:-default}}`")]
    Unclosed { at: usize },
    #[error(
        "`${{{name}}}` is not a valid variable name: use letters, digits and `_`, not starting with a digit"
    )]
    BadName { name: String },
}

pub fn expand(text: &str, env: Env<'_>) -> Result<Expanded, InterpolationError> {
    let mut out = Expanded {
        text: String::with_capacity(text.len()),
        substituted: false,
        missing: Vec::new(),
    };
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.text.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.text.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let at = text[..text.len() - after.len()].chars().count() + 1;
            let close = tail.find('}').ok_or(InterpolationError::Unclosed { at })?;
            let body = &tail[..close];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if !is_name(name) {
                return Err(InterpolationError::BadName {
                    name: name.to_owned(),
                });
            }
            out.substituted = true;
            match (
                env(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(v), _) => out.text.push_str(&v),
                (None, Some(d)) => out.text.push_str(d),
                (None, None) => out.missing.push(name.to_owned()),
            }
            rest = &tail[close + 1..];
        } else {
            out.text.push('$');
            rest = &after[1..];
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "BUCKET" => Some("acme".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Expanded {
        expand(text, &env).expect("expands")
    }

    #[test]
    fn substitutes_set_variables() {
        let e = run("s3://${BUCKET}/x");
        assert_eq!(e.text, "s3://acme/x");
        assert!(e.substituted && e.missing.is_empty());
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(run("${NOPE:-d}").text, "d");
        assert_eq!(run("${EMPTY:-d}").text, "d");
        assert_eq!(run("${EMPTY}").text, "");
        assert_eq!(run("${BUCKET:-d}").text, "acme");
    }

    #[test]
    fn missing_variables_are_listed_by_name() {
        let e = run("${A}-${B:-b}-${C}");
        assert_eq!(e.missing, vec!["A".to_string(), "C".to_string()]);
        assert_eq!(e.text, "-b-");
    }

    #[test]
    fn double_dollar_escapes_and_lone_dollar_stays() {
        assert_eq!(run("$${BUCKET} costs $5").text, "${BUCKET} costs $5");
        assert!(!run("$${BUCKET}").substituted);
    }

    #[test]
    fn malformed_references_are_errors() {
        assert_eq!(
            expand("x ${BUCKET", &env),
            Err(InterpolationError::Unclosed { at: 3 })
        );
        assert!(matches!(
            expand("${1X}", &env),
            Err(InterpolationError::BadName { .. })
        ));
        assert!(matches!(
            expand("${}", &env),
            Err(InterpolationError::BadName { .. })
        ));
    }
}

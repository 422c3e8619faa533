//! Counting what the signatures of the documents and seals say: which are errors (a
//! signature that does not hold, a key none of the public keys given is, one that is no
//! signature) and which are counts (unsigned, and signed with no public key given to check).

use serde::Serialize;

use crate::archive::reading::Problem;
use crate::signing::Check;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    /// Documents whose signature holds with a public key given.
    pub valid: usize,
    /// Documents without a signature (written before signing was configured); under
    /// `--require-signatures` they are problems instead, counted once.
    pub unsigned: usize,
    /// Signed documents not checked: no public key was given.
    pub not_checked: usize,
    /// Signatures that do not hold, are by a key none of those given is, or are no
    /// signature; unsigned documents too under `--require-signatures`.
    pub problems: Vec<Problem>,
}

impl SignatureReport {
    /// Counts what `check` says of the document at `key`. `keys_given`: whether any public
    /// key was given (without one, a signature can be neither trusted nor refused).
    pub fn count(&mut self, key: &str, check: &Check, keys_given: bool, require: bool) {
        match check {
            Check::Valid { .. } => self.valid += 1,
            Check::Unsigned if require => self.problems.push(Problem::new(
                key,
                "unsigned, and --require-signatures says every document must be signed",
            )),
            Check::Unsigned => self.unsigned += 1,
            Check::UnknownKey { .. } if !keys_given => self.not_checked += 1,
            Check::UnknownKey { key_id } => self.problems.push(Problem::new(
                key,
                format!("signed by key {key_id}, which is none of the public keys given"),
            )),
            Check::Invalid { key_id } => self.problems.push(Problem::new(
                key,
                format!(
                    "its signature by key {key_id} does not hold: changed since it was signed, \
                     or signed by another key under that key's id"
                ),
            )),
            Check::Malformed { reason } => self.problems.push(Problem::new(
                key,
                format!("cannot check its signature: {reason}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> String {
        "k1".to_owned()
    }

    #[test]
    fn unsigned_and_unchecked_documents_are_counts_and_bad_signatures_are_errors() {
        let mut report = SignatureReport::default();
        report.count("a", &Check::Valid { key_id: id() }, true, false);
        report.count("b", &Check::Unsigned, true, false);
        report.count("c", &Check::UnknownKey { key_id: id() }, false, false);
        assert_eq!(
            (report.valid, report.unsigned, report.not_checked),
            (1, 1, 1)
        );
        assert!(report.problems.is_empty());

        report.count("d", &Check::UnknownKey { key_id: id() }, true, false);
        report.count("e", &Check::Invalid { key_id: id() }, true, false);
        let reason = "not JSON".to_owned();
        report.count("f", &Check::Malformed { reason }, false, false);
        report.count("g", &Check::Unsigned, false, true);
        let named: Vec<&str> = report.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(named, ["d", "e", "f", "g"]);
        assert_eq!(
            report.unsigned, 1,
            "an unsigned problem is not counted as unsigned too"
        );
        assert!(report.problems[0].problem.contains("k1"), "{report:?}");
    }
}

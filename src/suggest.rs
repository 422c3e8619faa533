//! "Did you mean …?" for misspelt names: fields, enum values, macros, zones, placeholders.

/// The candidate nearest to `written` (ignoring case), if it is within `max_distance` edits;
/// ties go to the earlier candidate so suggestions are stable.
pub fn closest<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max_distance: usize,
) -> Option<&'a str> {
    // Edit distance is quadratic; nobody mistypes a name by hundreds of characters.
    if written.len() > 64 {
        return None;
    }
    let written = written.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        // Lengths alone rule most candidates out without computing a distance.
        if candidate.len().abs_diff(written.len()) > max_distance {
            continue;
        }
        let distance = strsim::osa_distance(&written, &candidate.to_ascii_lowercase());
        if distance <= max_distance && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// [`closest`] with a tolerance that grows with the word: one edit per three characters.
pub fn did_you_mean<'a>(
    written: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    closest(written, candidates, (written.chars().count() / 3).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_and_far_ones_are_not() {
        let fields = ["schedule", "timezone", "catch_up"];
        assert_eq!(did_you_mean("shedule", fields), Some("schedule"));
        assert_eq!(did_you_mean("TimeZone", fields), Some("timezone"));
        assert_eq!(did_you_mean("colour", fields), None);
        assert_eq!(
            did_you_mean("lates", ["latest", "all", "none"]),
            Some("latest")
        );
    }
}

//! Sizes as job files write them: `100MiB`, `5MB`, `1.5 GiB` or a plain number of bytes.

/// Units and their bytes: binary (`KiB` = 1024) and decimal (`KB` = 1000), as people write
/// them; matched without regard to case.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1000),
    ("mb", 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
    ("tb", 1000 * 1000 * 1000 * 1000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("expected a number followed by an optional unit, e.g. 100MiB, 5MB or 1048576")]
    Malformed,
    #[error(
        "unknown unit `{0}`: use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
    )]
    Unit(String),
    #[error("too large: at most 16 EiB")]
    TooLarge,
}

/// Bytes, rounded down when a fraction of a unit leaves part of a byte.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) || number.ends_with('.') {
        return Err(SizeError::Malformed);
    }
    let scale = UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        .map(|(_, bytes)| u128::from(*bytes))
        .ok_or_else(|| SizeError::Unit(unit.to_owned()))?;
    let fraction = fraction.get(..18).unwrap_or(fraction);
    let mantissa: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| SizeError::TooLarge)?;
    let divisor = 10u128.pow(fraction.len() as u32);
    let bytes = mantissa.checked_mul(scale).ok_or(SizeError::TooLarge)? / divisor;
    u64::try_from(bytes).map_err(|_| SizeError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_units_and_plain_bytes() {
        for (text, bytes) in [
            ("100MiB", 100 * 1024 * 1024),
            ("5MB", 5_000_000),
            ("5 mb", 5_000_000),
            ("1048576", 1_048_576),
            ("12B", 12),
            ("1.5KiB", 1536),
            ("1.5 GB", 1_500_000_000),
            ("0.0001KB", 0),
            ("2TiB", 2 << 40),
            ("0", 0),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn malformed_sizes_say_what_is_expected() {
        for text in ["", "MiB", "-5MB", "1..5MB", "1.MB", ".5MB", "5 M iB", "1e3"] {
            assert!(parse_size(text).is_err(), "{text}");
        }
        assert_eq!(parse_size("5 MiBs"), Err(SizeError::Unit("MiBs".into())));
        assert_eq!(parse_size("5 M iB"), Err(SizeError::Unit("M iB".into())));
        assert_eq!(parse_size("17EiB"), Err(SizeError::Unit("EiB".into())));
        assert_eq!(parse_size("99999999TiB"), Err(SizeError::TooLarge));
        assert_eq!(
            parse_size("999999999999999999999999999999999999999999"),
            Err(SizeError::TooLarge)
        );
    }
}

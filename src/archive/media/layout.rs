//! Where a captured file lives: content-addressed, `<prefix>/sha256/ab/abcdef…`, so the same
//! bytes from any message, window, job or run are one object, and an object's key proves
//! what it must hold.

/// The object key of the file whose SHA-256 (lowercase hex) is `sha256`, below `prefix`
/// (relative to the destination's root).
pub fn object_key(prefix: &str, sha256: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let fan = sha256.get(..2).unwrap_or(sha256);
    if prefix.is_empty() {
        format!("sha256/{fan}/{sha256}")
    } else {
        format!("{prefix}/sha256/{fan}/{sha256}")
    }
}

/// The SHA-256 a key under `prefix` names, when it is a media object's key.
pub fn sha256_of(prefix: &str, key: &str) -> Option<String> {
    let prefix = prefix.trim_matches('/');
    let rest = if prefix.is_empty() {
        key
    } else {
        key.strip_prefix(prefix)?.strip_prefix('/')?
    };
    let (fan, hex) = rest.strip_prefix("sha256/")?.split_once('/')?;
    let valid = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (valid && fan == &hex[..2]).then(|| hex.to_owned())
}

/// Whether `key` lies below the media prefix: listings of archives never walk into it.
pub fn is_media_key(prefix: &str, key: &str) -> bool {
    let prefix = prefix.trim_matches('/');
    !prefix.is_empty()
        && key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    #[test]
    fn keys_fan_out_by_the_first_byte_and_read_back() {
        let key = object_key("_media", SHA);
        assert_eq!(key, format!("_media/sha256/ab/{SHA}"));
        assert_eq!(sha256_of("_media", &key).as_deref(), Some(SHA));
        assert_eq!(object_key("/x/y/", SHA), format!("x/y/sha256/ab/{SHA}"));
        assert!(is_media_key("_media", &key));
        assert!(!is_media_key("_media", "_mediax/a"));
    }

    #[test]
    fn keys_that_are_not_a_media_object_name_no_hash() {
        assert_eq!(sha256_of("_media", "_media/sha256/ab/short"), None);
        assert_eq!(
            sha256_of("_media", &format!("_media/sha256/cd/{SHA}")),
            None
        );
        assert_eq!(sha256_of("_media", &format!("other/sha256/ab/{SHA}")), None);
        assert_eq!(
            sha256_of(
                "_media",
                &format!("_media/sha256/AB/{}", SHA.to_uppercase())
            ),
            None
        );
    }
}

//! Small deterministic hashing (the SplitMix64 finaliser): every "random" property of the data
//! set, task IDs and fault draws is a pure function of the seed and a few integers, so any slice
//! of the data can be recomputed without storing it.

/// The SplitMix64 finaliser: a bijection on `u64` that scatters nearby inputs.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The inverse of [`mix`].
pub(crate) fn unmix(y: u64) -> u64 {
    let mut z = unshift(y, 31);
    z = z.wrapping_mul(inverse(0x94D0_49BB_1331_11EB));
    z = unshift(z, 27);
    z = z.wrapping_mul(inverse(0xBF58_476D_1CE4_E5B9));
    z = unshift(z, 30);
    z.wrapping_sub(0x9E37_79B9_7F4A_7C15)
}

/// The inverse of `x ^ (x >> shift)`.
fn unshift(y: u64, shift: u32) -> u64 {
    let mut x = y;
    for _ in 0..(64 / shift + 1) {
        x = y ^ (x >> shift);
    }
    x
}

/// The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
fn inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

/// Hashes a sequence of integers into one well-mixed value.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |acc, &part| mix(acc ^ mix(part)))
}

/// A value in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Formats 128 bits as a UUID-shaped string (8-4-4-4-12 lower-case hex digits).
pub(crate) fn uuid_string(hi: u64, lo: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_is_deterministic_and_order_sensitive() {
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[3, 2, 1]));
        let u = unit(hash(&[7]));
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn unmix_inverts_mix() {
        for x in [0, 1, 42, u64::MAX, 0x1234_5678_9ABC_DEF0] {
            assert_eq!(unmix(mix(x)), x);
        }
    }

    #[test]
    fn uuid_strings_have_the_uuid_shape() {
        let id = uuid_string(mix(1), mix(2));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(uuid_string(0, 1), "00000000-0000-0000-0000-000000000001");
    }
}

//! Which addresses a link may never reach: everything that is not the public internet. A link
//! is written by an end user, and a fetch from inside a cluster could otherwise read a cloud
//! metadata endpoint, an internal service or the machine itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What `ip` is when it is not a public unicast address (IANA's special-purpose registries);
/// `None` for an address a fetch may connect to. An IPv6 address that carries an IPv4 one
/// (mapped, compatible, NAT64, 6to4) is judged by the IPv4 address it leads to.
pub fn special_use(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => v6(a),
    }
}

const V4: &[([u8; 4], u32, &str)] = &[
    ([0, 0, 0, 0], 8, "unspecified (\"this network\")"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared address space (CGNAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 169, 254], 32, "a cloud metadata endpoint"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "reserved for IETF protocols"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "a 6to4 relay"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([255, 255, 255, 255], 32, "broadcast"),
    ([240, 0, 0, 0], 4, "reserved"),
];

fn v4(ip: Ipv4Addr) -> Option<&'static str> {
    let n = u32::from(ip);
    V4.iter()
        .find(|(base, bits, _)| {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            n & mask == u32::from_be_bytes(*base)
        })
        .map(|(_, _, what)| *what)
}

/// How an IPv6 range is judged.
enum V6 {
    Refused(&'static str),
    /// The IPv4 address in the low 32 bits decides.
    LowV4,
    /// The IPv4 address in bits 16..48 (6to4) decides.
    SixToFour,
}

const V6_RANGES: &[(u128, u32, V6)] = &[
    (0, 128, V6::Refused("unspecified")),
    (1, 128, V6::Refused("loopback")),
    (0xffff_0000_0000, 96, V6::LowV4),
    (0, 96, V6::LowV4),
    (0x0064_ff9b << 96, 96, V6::LowV4),
    (
        0x0064_ff9b_0001 << 80,
        48,
        V6::Refused("NAT64 for local use"),
    ),
    (0x0100 << 112, 64, V6::Refused("discard-only")),
    (0x2001_0db8 << 96, 32, V6::Refused("documentation")),
    (0x2001 << 112, 32, V6::Refused("a Teredo tunnel")),
    (0x2002 << 112, 16, V6::SixToFour),
    (0x3fff << 112, 20, V6::Refused("documentation")),
    (
        (0xfd00_0ec2 << 96) | 0x254,
        128,
        V6::Refused("a cloud metadata endpoint"),
    ),
    (0xfc00 << 112, 7, V6::Refused("unique local (private)")),
    (0xfe80 << 112, 10, V6::Refused("link-local")),
    (0xfec0 << 112, 10, V6::Refused("site-local")),
    (0xff00 << 112, 8, V6::Refused("multicast")),
];

fn v6(ip: Ipv6Addr) -> Option<&'static str> {
    let n = u128::from(ip);
    let (_, _, rule) = V6_RANGES.iter().find(|(base, bits, _)| {
        let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
        n & mask == *base
    })?;
    match rule {
        V6::Refused(what) => Some(what),
        V6::LowV4 => v4(Ipv4Addr::from(n as u32)),
        V6::SixToFour => v4(Ipv4Addr::from((n >> 80) as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        special_use(text.parse().expect("an address")).is_some()
    }

    #[test]
    fn every_non_public_ipv4_range_is_refused_at_both_ends() {
        for (first, last) in [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("100.64.0.0", "100.127.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
            ("224.0.0.0", "239.255.255.255"),
            ("240.0.0.0", "255.255.255.255"),
        ] {
            assert!(refused(first), "{first}");
            assert!(refused(last), "{last}");
        }
    }

    #[test]
    fn public_ipv4_next_to_the_refused_ranges_is_allowed() {
        for ip in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "13.32.0.1",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn the_metadata_endpoints_are_named() {
        let v4: IpAddr = "169.254.169.254".parse().expect("an address");
        assert_eq!(special_use(v4), Some("a cloud metadata endpoint"));
        let v6: IpAddr = "fd00:ec2::254".parse().expect("an address");
        assert_eq!(special_use(v6), Some("a cloud metadata endpoint"));
        let other: IpAddr = "169.254.0.1".parse().expect("an address");
        assert_eq!(special_use(other), Some("link-local"));
    }

    #[test]
    fn non_public_ipv6_is_refused() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            "64:ff9b:1::1",
            "3fff::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in [
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "fbff::1",
            "fe00::1",
            "2001:4860::1",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_carrying_an_ipv4_address_is_judged_by_it() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::192.168.1.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["::ffff:1.1.1.1", "64:ff9b::1.1.1.1", "2002:101:101::1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn numeric_and_octal_hosts_are_judged_as_the_url_parser_reads_them() {
        for (link, expected) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://0.0.0.0/", "0.0.0.0"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0xA9FEA9FE/", "169.254.169.254"),
        ] {
            let url = url::Url::parse(link).expect("a URL");
            let Some(url::Host::Ipv4(ip)) = url.host() else {
                panic!("{link} is not read as IPv4: {:?}", url.host());
            };
            assert_eq!(ip.to_string(), expected, "{link}");
            assert!(special_use(IpAddr::V4(ip)).is_some(), "{link}");
        }
        let url = url::Url::parse("http://[::]/").expect("a URL");
        let Some(url::Host::Ipv6(ip)) = url.host() else {
            panic!("[::] is not read as IPv6");
        };
        assert_eq!(special_use(IpAddr::V6(ip)), Some("unspecified"));
        let url = url::Url::parse("http://[::ffff:7f00:1]/").expect("a URL");
        let Some(url::Host::Ipv6(ip)) = url.host() else {
            panic!("not read as IPv6");
        };
        assert_eq!(special_use(IpAddr::V6(ip)), Some("loopback"));
    }
}

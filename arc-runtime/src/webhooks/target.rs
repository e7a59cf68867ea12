//! Where a delivery may go. An organization's admin names the URL, and the server makes the
//! request: without a guard that is a way into the server's own network (its loopback, the
//! cloud's metadata address, the database next to it). So by default a webhook's URL is
//! `https`, carries no credentials, and reaches public addresses only: checked when it is
//! saved (a literal address, `localhost`) and again on every connection (what its name
//! resolves to then, so a name that later points inside is refused too); no redirect is
//! followed and no proxy is used. [`Webhooks::allow_insecure`](super::Webhooks::allow_insecure)
//! lifts the guard, for development and tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The longest URL a webhook may have.
pub(crate) const MAX_URL: usize = 2048;

/// Whether the guard is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Targets {
    /// `https`, public addresses only.
    Public,
    /// Any `http` or `https` URL.
    Any,
}

/// Why a URL cannot be a webhook's.
pub(crate) fn check_url(url: &str, targets: Targets) -> Result<Url, String> {
    if url.len() > MAX_URL {
        return Err(format!("A webhook's URL is at most {MAX_URL} characters"));
    }
    let parsed = Url::parse(url).map_err(|e| format!("Not an absolute URL: {e}"))?;
    match (parsed.scheme(), targets) {
        ("https", _) | ("http", Targets::Any) => {}
        ("http", Targets::Public) => return Err("A webhook's URL is https".to_owned()),
        _ => return Err("A webhook's URL is http or https".to_owned()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("A webhook's URL carries no credentials: sign with the secret".to_owned());
    }
    if parsed.fragment().is_some() {
        return Err("A webhook's URL has no fragment".to_owned());
    }
    let Some(host) = parsed.host_str() else {
        return Err("A webhook's URL names a host".to_owned());
    };
    if targets == Targets::Public {
        // An IPv6 host is in brackets; the URL parser wrote any IPv4 form as dotted quads.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let internal = match bare.parse::<IpAddr>() {
            Ok(ip) => !public(ip),
            Err(_) => {
                let name = bare.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost"
                    || [".localhost", ".local", ".internal", ".localdomain"]
                        .iter()
                        .any(|suffix| name.ends_with(suffix))
                    || !name.contains('.')
            }
        };
        if internal {
            return Err("A webhook's URL reaches a public address".to_owned());
        }
    }
    Ok(parsed)
}

/// Whether `ip` is an address of the public internet: not loopback, private, link-local
/// (the cloud's metadata address), shared (carrier NAT), unspecified, multicast, broadcast,
/// documentation, reserved or a cloud host's own (Azure's `168.63.129.16`), not one of the
/// IPv6 ranges of protocols and tunnels (`2001::/23`, Teredo included; discard `100::/64`),
/// and not an inside IPv4 address in IPv6 dress (mapped, translated, NAT64, 6to4).
pub(crate) fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        // the 6to4 relay anycast (192.88.99.0/24, deprecated)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        // the Azure host's own address (DNS, DHCP, health probes) in every virtual network
        || ip == Ipv4Addr::new(168, 63, 129, 16)
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = || {
        Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        )
    };
    // NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) and IPv4-translated
    // (::ffff:0:0/96) addresses reach the IPv4 address of their last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || segments[..3] == [0x64, 0xff9b, 1]
        || segments[..6] == [0, 0, 0, 0, 0xffff, 0]
    {
        return public_v4(embedded_v4());
    }
    // 6to4 (2002::/16) reaches the IPv4 address of its next 32 bits.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        );
        return public_v4(v4);
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // IPv4-compatible (deprecated ::a.b.c.d)
        || segments[..6] == [0; 6]
        // unique local fc00::/7, link-local fe80::/10, site-local fec0::/10
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // discard-only 100::/64
        || segments[..4] == [0x100, 0, 0, 0]
        // IETF protocol assignments 2001::/23: Teredo 2001::/32, ORCHID 2001:10::/28, ...
        || (segments[0] == 0x2001 && segments[1] < 0x200)
        // documentation 2001:db8::/32
        || (segments[0] == 0x2001 && segments[1] == 0x0db8))
}

/// A resolver that answers only public addresses: a name that resolves to none fails the
/// connection.
#[derive(Debug, Default)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_inside(addresses: &[&str]) {
        for inside in addresses {
            let ip: IpAddr = inside.parse().unwrap();
            assert!(!public(ip), "{inside} is inside");
        }
    }

    fn all_public(addresses: &[&str]) {
        for outside in addresses {
            let ip: IpAddr = outside.parse().unwrap();
            assert!(public(ip), "{outside} is public");
        }
    }

    #[test]
    fn inside_addresses_are_not_public() {
        all_inside(&[
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:0001::1",
            "::127.0.0.1",
        ]);
    }

    #[test]
    fn translated_tunnelled_and_reserved_addresses_are_not_public() {
        all_inside(&[
            // IPv4-translated ::ffff:0:0/96
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "::ffff:0:a00:1",
            // local-use NAT64 64:ff9b:1::/48
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:ffff::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            // IETF protocol assignments 2001::/23: Teredo, ORCHIDv2, benchmarking, ...
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:10::1",
            "2001:20::1",
            "2001:2::1",
            "2001:1ff::1",
            // discard-only 100::/64
            "100::",
            "100::1",
            // 6to4 relay anycast, Azure's host
            "192.88.99.1",
            "168.63.129.16",
            "::ffff:168.63.129.16",
        ]);
        all_public(&[
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "192.88.98.1",
            "168.63.129.17",
            "::ffff:0:5db8:d822",
            "64:ff9b:1::5db8:d822",
            "2001:4860:4860::8888",
            "2001:200::1",
        ]);
    }

    #[test]
    fn urls_are_checked() {
        let ok = |url: &str| check_url(url, Targets::Public).is_ok();
        assert!(ok("https://hooks.example.com/arc?x=1"));
        assert!(!ok("http://hooks.example.com/"));
        assert!(!ok("ftp://hooks.example.com/"));
        assert!(!ok("https://user:pw@hooks.example.com/"));
        assert!(!ok("https://127.0.0.1/"));
        assert!(!ok("https://[::1]/"));
        assert!(!ok("https://[::ffff:0:7f00:1]/"));
        assert!(!ok("https://[64:ff9b:1::a9fe:a9fe]/"));
        assert!(!ok("https://[2001::1]/"));
        assert!(!ok("https://169.254.169.254/latest/meta-data"));
        assert!(!ok("https://localhost:8080/"));
        assert!(!ok("https://api.localhost/"));
        assert!(!ok("https://metadata/"));
        // Other spellings of loopback, written as dotted quads by the parser.
        assert!(!ok("https://2130706433/"));
        assert!(!ok("https://0x7f.1/"));
        assert!(!ok("https://hooks.example.com/#frag"));
        assert!(!ok("/relative"));
        assert!(!ok(&format!("https://example.com/{}", "a".repeat(MAX_URL))));
        // The guard off: any http(s), still no credentials.
        assert!(check_url("http://127.0.0.1:9000/hook", Targets::Any).is_ok());
        assert!(check_url("http://u:p@127.0.0.1/", Targets::Any).is_err());
    }
}

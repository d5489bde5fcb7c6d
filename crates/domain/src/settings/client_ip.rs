//! Who the client is: `settings.trustedProxy` (PocketBase's `headers` and `useLeftmostIP`, plus
//! Gatehouse's `proxyIPs`: the peers whose headers are believed), IP and CIDR lists (PocketBase's
//! `excludedIPs`, `superuserIPs`), and the key that limits and lockouts count a client under
//! (an IPv6 client owns a whole prefix, so it counts as one prefix, not one address).

use crate::error::FieldErrors;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedProxy {
    /// Headers that carry the client IP (e.g. `X-Forwarded-For`), tried in order. Empty: the
    /// connection's address is the client's.
    #[serde(default)]
    pub headers: Vec<String>,
    #[serde(default, rename = "useLeftmostIP")]
    pub use_leftmost_ip: bool,
    /// The proxies (IPs or CIDRs) whose headers are believed. Empty: loopback and private
    /// networks, where a reverse proxy usually sits; never a peer on the open internet.
    #[serde(default, rename = "proxyIPs")]
    pub proxy_ips: Vec<String>,
}

impl TrustedProxy {
    pub fn check(&self, errors: &mut FieldErrors) {
        let mut own = FieldErrors::default();
        check_ip_list(&mut own, "proxyIPs", &self.proxy_ips);
        errors.nest("trustedProxy", own);
    }

    /// The client IP. Headers count only when the connection comes from a trusted proxy; then
    /// the first configured header that holds an address decides: walked from the right, each
    /// trusted proxy is skipped and the first other address is the client (with
    /// `useLeftmostIP`, the leftmost address, as in PocketBase). Otherwise the peer's address.
    pub fn client_ip(&self, header: impl Fn(&str) -> Option<String>, remote: &str) -> String {
        let Ok(peer) = remote.parse::<IpAddr>() else {
            return remote.to_owned();
        };
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer.to_string();
        }
        for name in &self.headers {
            let Some(value) = header(name) else { continue };
            let found = if self.use_leftmost_ip {
                value
                    .split(',')
                    .find(|p| !p.trim().is_empty())
                    .and_then(parse_ip)
            } else {
                self.rightmost_untrusted(&value)
            };
            if let Some(ip) = found {
                return ip.to_string();
            }
        }
        peer.to_string()
    }

    /// Walks a hop list from the right: trusted proxies are skipped, the first other address is
    /// the client. A malformed entry ends the walk (what lies left of it cannot be believed).
    fn rightmost_untrusted(&self, value: &str) -> Option<IpAddr> {
        let mut client = None;
        for part in value.rsplit(',') {
            let Some(ip) = parse_ip(part) else { break };
            client = Some(ip);
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        if self.proxy_ips.is_empty() {
            return is_local(ip);
        }
        list_contains(&self.proxy_ips, ip)
    }
}

fn parse_ip(part: &str) -> Option<IpAddr> {
    part.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Loopback, private (RFC 1918, IPv6 unique-local) and link-local addresses.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

/// The key a client counts under for rate limits and lockouts: an IPv4 address as it is, an
/// IPv6 address cut to its first `ipv6_prefix` bits (`2001:db8:1:2::/64`), since one host
/// usually owns a whole /64 and could otherwise take a fresh address per request.
pub fn client_key(ip: &str, ipv6_prefix: u8) -> String {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) if ipv6_prefix < 128 => {
            let bits = u32::from(ipv6_prefix);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{net}/{ipv6_prefix}")
        }
        Ok(ip) => ip.to_string(),
        // Never request text of any size in a key.
        Err(_) => String::new(),
    }
}

/// Whether `ip` is one of `list`'s IPs or inside one of its CIDRs.
pub fn list_contains(list: &[String], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    list.iter()
        .filter_map(|s| parse_subnet(s))
        .any(|(net, bits)| in_subnet(ip, net, bits))
}

/// Like [`list_contains`], for an address as text (a malformed one is in no list).
pub fn list_contains_str(list: &[String], ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|ip| list_contains(list, ip))
}

/// PocketBase's check of an IP/CIDR list, under `name`.
pub fn check_ip_list(errors: &mut FieldErrors, name: &str, list: &[String]) {
    let mut items = FieldErrors::default();
    for (i, ip) in list.iter().enumerate() {
        if parse_subnet(ip).is_none() {
            items.add(
                &i.to_string(),
                "validation_invlaid_ip_or_subnet",
                "Invalid IP or CIDR subnet.",
            );
        }
    }
    errors.nest(name, items);
}

/// `10.0.0.1` or `10.0.0.0/8` (IPv4 or IPv6) as (network, prefix bits).
fn parse_subnet(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, bits.parse::<u32>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_subnet(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(proxy_ips: &[&str], leftmost: bool) -> TrustedProxy {
        TrustedProxy {
            headers: vec!["x-forwarded-for".into()],
            use_leftmost_ip: leftmost,
            proxy_ips: proxy_ips.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let hops = |_: &str| Some("1.1.1.1, 2.2.2.2".to_owned());
        // A peer on the internet cannot choose its IP by sending a header.
        assert_eq!(proxy(&[], false).client_ip(hops, "8.8.8.8"), "8.8.8.8");
        assert_eq!(
            proxy(&["10.0.0.0/8"], false).client_ip(hops, "127.0.0.1"),
            "127.0.0.1"
        );
        // From a trusted proxy: the rightmost address that is not a trusted proxy.
        assert_eq!(proxy(&[], false).client_ip(hops, "127.0.0.1"), "2.2.2.2");
        let chain = |_: &str| Some("6.6.6.6, 1.1.1.1, 10.0.0.7".to_owned());
        assert_eq!(
            proxy(&["10.0.0.0/8", "127.0.0.1"], false).client_ip(chain, "127.0.0.1"),
            "1.1.1.1"
        );
        assert_eq!(
            proxy(&["127.0.0.1"], true).client_ip(chain, "127.0.0.1"),
            "6.6.6.6"
        );
        // A malformed hop ends the walk; junk alone leaves the peer.
        let junk = |_: &str| Some("1.1.1.1, junk, 10.0.0.7".to_owned());
        assert_eq!(proxy(&[], false).client_ip(junk, "127.0.0.1"), "10.0.0.7");
        assert_eq!(
            proxy(&[], false).client_ip(|_| Some("junk".into()), "127.0.0.1"),
            "127.0.0.1"
        );
        // An IPv4 client seen through an IPv6 socket is the IPv4 client.
        assert_eq!(
            TrustedProxy::default().client_ip(|_| None, "::ffff:9.9.9.9"),
            "9.9.9.9"
        );
    }

    #[test]
    fn an_ipv6_client_counts_as_its_prefix() {
        assert_eq!(client_key("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:bbbb::9", 64), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(client_key("10.1.2.3", 64), "10.1.2.3");
        assert_eq!(client_key(&"x".repeat(10_000), 64), "");
    }

    #[test]
    fn lists_hold_ips_and_subnets() {
        let list = vec!["10.0.0.0/8".to_owned(), "::1".to_owned()];
        assert!(list_contains_str(&list, "10.2.3.4"));
        assert!(list_contains_str(&list, "::1"));
        assert!(list_contains_str(&list, "::ffff:10.0.0.1"));
        assert!(!list_contains_str(&list, "11.0.0.1"));
        assert!(!list_contains_str(&list, "junk"));
    }
}

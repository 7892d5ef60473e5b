//! The address a client is limited by.
//!
//! The TCP peer, unless the peer is one of `PARLEY_TRUSTED_PROXIES`: then the
//! nearest address in `X-Forwarded-For` that is not a trusted proxy (walking
//! from the right: entries left of an untrusted hop are the client's to
//! invent). IPv6 clients are counted per /64, the block one subscriber
//! usually holds: per address, a limit would be free to dodge.

use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv6Net};
use std::fmt;
use std::net::IpAddr;

/// An IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// The client behind `peer`, given the request's headers.
    pub fn of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let mut client = peer.to_canonical();
        if !is_trusted(&client) {
            return Self::from_addr(client);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|list| list.split(','))
            .collect();
        for hop in hops.iter().rev() {
            // Garbage: stop at the last address a trusted proxy vouched for.
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !is_trusted(&client) {
                break;
            }
        }
        Self::from_addr(client)
    }

    fn from_addr(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => Self(IpAddr::V6(
                Ipv6Net::new(v6, 64)
                    .expect("64 is a valid prefix length")
                    .trunc()
                    .addr(),
            )),
        }
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A trusted proxy as configured: an address or a network (`10.0.0.0/8`).
pub fn parse_trusted(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a network like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn trusted(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().map(|r| parse_trusted(r).unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let client = ClientIp::of(ip("203.0.113.7"), &forwarded(&["198.51.100.1"]), &[]);
        assert_eq!(client.to_string(), "203.0.113.7");
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let proxies = trusted(&["10.0.0.0/8"]);
        // The client wrote the first entry itself; the proxies added the rest.
        let headers = forwarded(&["1.1.1.1, 198.51.100.9", "10.0.0.5"]);
        let client = ClientIp::of(ip("10.0.0.2"), &headers, &proxies);
        assert_eq!(client.to_string(), "198.51.100.9");
    }

    #[test]
    fn a_trusted_proxy_with_no_or_a_garbled_header_counts_as_the_client() {
        let proxies = trusted(&["10.0.0.2"]);
        let alone = ClientIp::of(ip("10.0.0.2"), &HeaderMap::new(), &proxies);
        assert_eq!(alone.to_string(), "10.0.0.2");
        let garbled = ClientIp::of(ip("10.0.0.2"), &forwarded(&["1.1.1.1, nonsense"]), &proxies);
        assert_eq!(garbled.to_string(), "10.0.0.2");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let a = ClientIp::of(ip("2001:db8:1:2:aaaa::1"), &HeaderMap::new(), &[]);
        let b = ClientIp::of(ip("2001:db8:1:2:bbbb::9"), &HeaderMap::new(), &[]);
        let other = ClientIp::of(ip("2001:db8:1:3::1"), &HeaderMap::new(), &[]);
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        let mapped = ClientIp::of(ip("::ffff:192.0.2.1"), &HeaderMap::new(), &[]);
        assert_eq!(
            mapped,
            ClientIp::of(ip("192.0.2.1"), &HeaderMap::new(), &[])
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        assert!(parse_trusted("10.0.0.1").is_ok());
        assert!(parse_trusted(" 10.0.0.0/8 ").is_ok());
        assert!(parse_trusted("fd00::/8").is_ok());
        assert!(parse_trusted("proxy.local").is_err());
        assert!(parse_trusted("10.0.0.0/33").is_err());
    }
}

//! The client's address: the TCP peer, or, when the peer is a trusted reverse proxy, the
//! address the proxies report in `X-Forwarded-For`.
//!
//! Each proxy appends the address of whoever connected to it, so the header reads
//! `client, proxy1, proxy2` and only its right end is trustworthy: anyone can send the
//! header with made-up addresses at its left. The header is therefore read from the
//! right, skipping the trusted proxies, and the first address that is not one of them
//! is the client. A peer that is not a trusted proxy is the client whatever the header
//! says. An entry that is not an address (a proxy writing `unknown`, say) ends the walk:
//! the last trusted hop before it stands in for the client, the only address known for
//! certain.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::{IpNet, Ipv6Net};

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// The proxies in `networks` (a single address is a /32 or /128 network).
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self { networks }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with these `X-Forwarded-For` header
    /// values, in the order they were received.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        for value in forwarded_for.rev() {
            let Ok(value) = std::str::from_utf8(value) else {
                return client;
            };
            // RFC 9110 lists may have empty elements (`a, , b`); they say nothing.
            for entry in value.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
                let Some(hop) = parse_hop(entry) else {
                    return client;
                };
                client = hop.to_canonical();
                if !self.contains(client) {
                    return client;
                }
            }
        }
        // Every hop is a trusted proxy: the request started at the leftmost one.
        client
    }
}

/// An address as proxies write them in `X-Forwarded-For`: `192.0.2.7`, `2001:db8::7`,
/// and, from some proxies, with a port (`192.0.2.7:4711`, `[2001:db8::7]:4711`) or in
/// brackets (`[2001:db8::7]`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// The rate-limit identity of an anonymous client at `ip`: `ip:<address>`, except that
/// IPv6 addresses count by their /64 network, which is what one subscriber is usually
/// given: counting single addresses would let one client take a fresh allowance with
/// each of its 2^64 addresses.
pub fn identity(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let network = Ipv6Net::new(v6, 64).map(|net| net.trunc());
            match network {
                Ok(network) => format!("ip:{network}"),
                Err(_) => format!("ip:{v6}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn proxies(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            networks
                .iter()
                .map(|n| n.parse().expect("a network"))
                .collect(),
        )
    }

    /// The client of a request from `peer` with these header lines.
    fn client(trusted: &TrustedProxies, peer: &str, headers: &[&str]) -> IpAddr {
        trusted.client(ip(peer), headers.iter().map(|h| h.as_bytes()))
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "198.51.100.9", &[]), ip("198.51.100.9"));
        assert_eq!(
            client(&none, "198.51.100.9", &["203.0.113.1"]),
            ip("198.51.100.9"),
            "a spoofed header from an untrusted peer is ignored"
        );
    }

    #[test]
    fn a_header_from_an_untrusted_peer_is_ignored() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&trusted, "198.51.100.9", &["10.0.0.1", "203.0.113.1"]),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn a_trusted_peer_reports_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&trusted, "10.0.0.2", &["203.0.113.1"]),
            ip("203.0.113.1")
        );
        assert_eq!(
            client(&trusted, "10.0.0.2", &[]),
            ip("10.0.0.2"),
            "no header: the request came from the proxy itself"
        );
    }

    #[test]
    fn the_walk_goes_right_to_left_and_stops_at_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1/32"]);
        // The client claims to be 1.1.1.1; the first proxy saw 203.0.113.7.
        assert_eq!(
            client(
                &trusted,
                "10.0.0.2",
                &["1.1.1.1, 203.0.113.7, 192.0.2.1, 10.9.9.9"]
            ),
            ip("203.0.113.7")
        );
        // The same chain over several header lines, and with empty elements.
        assert_eq!(
            client(
                &trusted,
                "10.0.0.2",
                &["1.1.1.1", "203.0.113.7,,192.0.2.1", " 10.9.9.9 "]
            ),
            ip("203.0.113.7")
        );
        // A spoofed trusted address at the left changes nothing.
        assert_eq!(
            client(&trusted, "10.0.0.2", &["10.1.1.1, 203.0.113.7"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn when_every_hop_is_trusted_the_leftmost_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&trusted, "10.0.0.2", &["10.0.0.5, 10.0.0.4"]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for garbage in ["unknown", "not an address", "300.1.2.3", "_hidden", "1.2.3"] {
            assert_eq!(
                client(&trusted, "10.0.0.2", &[&format!("203.0.113.7, {garbage}")]),
                ip("10.0.0.2"),
                "{garbage}"
            );
            assert_eq!(
                client(
                    &trusted,
                    "10.0.0.2",
                    &[&format!("{garbage}, 203.0.113.7, 10.0.0.3")]
                ),
                ip("203.0.113.7"),
                "garbage left of the client is never reached: {garbage}"
            );
        }
        let not_utf8: &[u8] = b"203.0.113.7, \xff";
        assert_eq!(
            trusted.client(ip("10.0.0.2"), [not_utf8].into_iter()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn hops_may_carry_ports_and_brackets() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let cases = [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
        ];
        for (hop, expected) in cases {
            assert_eq!(client(&trusted, "fd00::1", &[hop]), ip(expected), "{hop}");
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_count_as_ipv4() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert!(trusted.contains(ip("::ffff:127.0.0.1")));
        assert_eq!(
            client(&trusted, "::ffff:127.0.0.1", &["::ffff:203.0.113.7"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn identities_group_ipv6_by_64_bit_network() {
        assert_eq!(identity(ip("203.0.113.7")), "ip:203.0.113.7");
        assert_eq!(identity(ip("::ffff:203.0.113.7")), "ip:203.0.113.7");
        assert_eq!(identity(ip("2001:db8:1:2:aaaa::1")), "ip:2001:db8:1:2::/64");
        assert_eq!(
            identity(ip("2001:db8:1:2:bbbb::9")),
            identity(ip("2001:db8:1:2:aaaa::1"))
        );
    }
}

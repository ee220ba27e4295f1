//! Which addresses a call may reach. A scheduler of HTTP calls is a server-side request
//! forgery waiting to happen: whoever may create a timer chooses a URL that ontime's workers
//! call from inside the network. So loopback, private, link-local, cloud-metadata and other
//! internal addresses are refused unless the operator allows them (`--allow-targets`).
//!
//! This module only judges addresses; it does no I/O. The worker applies it to the address it
//! actually connects to (after DNS resolution, on every redirect), and the gateway to a URL
//! whose host is an IP literal, so that a create that can never be called is refused at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// What a metadata service is called: the address that hands out a cloud machine's
/// credentials, the prize of most server-side request forgeries.
const METADATA: &str = "cloud metadata address";

/// IPv4 ranges refused unless allowed. Most specific first: the first range that contains an
/// address names its kind.
const FORBIDDEN_V4: [(Ipv4Net, &str); 15] = [
    // AWS, GCP, Azure, OpenStack…
    (v4(169, 254, 169, 254, 32), METADATA),
    // Alibaba Cloud.
    (v4(100, 100, 100, 200, 32), METADATA),
    (v4(0, 0, 0, 0, 32), "unspecified address"),
    // Many stacks connect 0.0.0.0/8 to the local host.
    (v4(0, 0, 0, 0, 8), "\"this network\" address"),
    (v4(10, 0, 0, 0, 8), "private address"),
    (v4(100, 64, 0, 0, 10), "shared (carrier-grade NAT) address"),
    (v4(127, 0, 0, 0, 8), "loopback address"),
    (v4(169, 254, 0, 0, 16), "link-local address"),
    (v4(172, 16, 0, 0, 12), "private address"),
    (v4(192, 0, 0, 0, 24), "IETF protocol assignment address"),
    (v4(192, 168, 0, 0, 16), "private address"),
    (v4(198, 18, 0, 0, 15), "benchmarking address"),
    (v4(224, 0, 0, 0, 4), "multicast address"),
    (v4(255, 255, 255, 255, 32), "broadcast address"),
    (v4(240, 0, 0, 0, 4), "reserved address"),
];

/// IPv6 ranges refused unless allowed, most specific first. Addresses that embed an IPv4
/// address are judged by it instead (see [`embedded_v4`]).
const FORBIDDEN_V6: [(Ipv6Net, &str); 7] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified address"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback address"),
    // AWS's metadata service over IPv6 (inside the unique local range below).
    (v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128), METADATA),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "private (unique local) address",
    ),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local address"),
    // Deprecated (RFC 3879), but still routed inside some networks.
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "site-local address"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast address"),
];

/// `loopback` in an allow list.
const LOOPBACK: [IpNet; 2] = [
    IpNet::V4(v4(127, 0, 0, 0, 8)),
    IpNet::V6(v6([0, 0, 0, 0, 0, 0, 0, 1], 128)),
];
/// `private` in an allow list: RFC 1918 and IPv6 unique local addresses.
const PRIVATE: [IpNet; 4] = [
    IpNet::V4(v4(10, 0, 0, 0, 8)),
    IpNet::V4(v4(172, 16, 0, 0, 12)),
    IpNet::V4(v4(192, 168, 0, 0, 16)),
    IpNet::V6(v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7)),
];
/// `link-local` in an allow list (which lets the metadata services through too).
const LINK_LOCAL: [IpNet; 2] = [
    IpNet::V4(v4(169, 254, 0, 0, 16)),
    IpNet::V6(v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10)),
];
/// `all` in an allow list: the guard is off.
const ALL: [IpNet; 2] = [
    IpNet::V4(v4(0, 0, 0, 0, 0)),
    IpNet::V6(v6([0, 0, 0, 0, 0, 0, 0, 0], 0)),
];

/// What an operator may write in an allow list besides addresses and CIDRs.
const KEYWORDS: &str = "loopback, private, link-local, all, none";

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// The addresses ontime may call: every public address, and the internal ones the operator
/// allows. The default is strict: no internal address at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGuard {
    /// Aggregated (sorted, merged), so that equal permissions compare equal however they
    /// were written.
    allowed: Vec<IpNet>,
}

/// Why an address may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{ip} is {article} {kind}; ontime calls it only if the operator allows it (--allow-targets)",
    article = article(.kind)
)]
pub struct Refusal {
    /// The address refused, as it was given (an IPv4-mapped address stays IPv6).
    pub ip: IpAddr,
    /// What it is: "loopback address", "cloud metadata address"…
    pub kind: &'static str,
}

impl TargetGuard {
    /// Every internal address refused: the default.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Every address allowed: for an operator whose network has nothing to protect, or that
    /// filters outgoing traffic itself.
    pub fn off() -> Self {
        Self::allowing(ALL)
    }

    /// Loopback allowed (127.0.0.0/8, ::1), nothing else internal: for development, where
    /// the services called run on the same machine.
    pub fn loopback() -> Self {
        Self::allowing(LOOPBACK)
    }

    /// Strict, except for `nets`.
    pub fn allowing(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self::strict().with(nets)
    }

    /// This guard with `nets` allowed too.
    pub fn with(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.allowed.extend(nets);
        self.allowed = IpNet::aggregate(&self.allowed);
        self
    }

    /// Reads an operator's allow list: comma-separated CIDRs (`10.1.0.0/16`), single
    /// addresses (`10.1.2.3`, `fd00::1`) and keywords: `loopback`, `private` (RFC 1918 and
    /// IPv6 unique local), `link-local`, `all` (the guard off) and `none` (strict, what an
    /// empty list means too, for an environment variable that must be set to something).
    pub fn parse(list: &str) -> Result<Self, String> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        let none = entries
            .iter()
            .any(|entry| entry.eq_ignore_ascii_case("none"));
        if none && entries.len() > 1 {
            return Err(format!(
                "`none` allows nothing and cannot be combined with other entries: `{list}`"
            ));
        }
        let mut nets = Vec::new();
        for entry in entries {
            nets.extend(entry_nets(entry)?);
        }
        Ok(Self::allowing(nets))
    }

    /// The networks allowed besides the public addresses (always allowed), aggregated.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// One line for the start-up log: what the workers may call.
    pub fn describe(&self) -> String {
        if self.allowed.is_empty() {
            "strict: loopback, private, link-local, metadata and other internal addresses \
             are refused"
                .to_owned()
        } else if *self == Self::off() {
            "off: every address may be called".to_owned()
        } else {
            let nets: Vec<String> = self.allowed.iter().map(IpNet::to_string).collect();
            format!(
                "allowing {}; other internal addresses are refused",
                nets.join(", ")
            )
        }
    }

    /// Whether a call may connect to `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match forbidden_kind(ip) {
            Some(kind) if !self.allows(ip) => Err(Refusal { ip, kind }),
            _ => Ok(()),
        }
    }

    /// Whether a URL's host may be called, as far as can be told without resolving it: an IP
    /// literal is judged, a name is left to the resolver.
    pub fn check_host<S>(&self, host: &url::Host<S>) -> Result<(), Refusal> {
        match host {
            url::Host::Ipv4(ip) => self.check_ip(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.check_ip(IpAddr::V6(*ip)),
            url::Host::Domain(_) => Ok(()),
        }
    }

    /// [`Self::check_host`] for the host of `url`. The URL is parsed as a call would parse
    /// it, which normalises odd IPv4 notations (`http://2130706433/`, `http://0x7f.1/` are
    /// 127.0.0.1). A URL that does not parse, or has no host, is the validation's business,
    /// not the guard's: it passes.
    pub fn check_url(&self, url: &str) -> Result<(), Refusal> {
        match url::Url::parse(url) {
            Ok(parsed) => parsed.host().map_or(Ok(()), |host| self.check_host(&host)),
            Err(_) => Ok(()),
        }
    }

    /// Whether an allowed network contains `ip`, or the IPv4 address it embeds: allowing
    /// 127.0.0.1 allows ::ffff:127.0.0.1, which is the same destination.
    fn allows(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allowed
            .iter()
            .any(|net| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4)))
    }
}

/// The networks one entry of an allow list stands for.
fn entry_nets(entry: &str) -> Result<Vec<IpNet>, String> {
    let keyword: Option<&[IpNet]> = match entry.to_ascii_lowercase().as_str() {
        "loopback" => Some(&LOOPBACK),
        "private" => Some(&PRIVATE),
        "link-local" => Some(&LINK_LOCAL),
        "all" => Some(&ALL),
        "none" => Some(&[]),
        _ => None,
    };
    if let Some(nets) = keyword {
        return Ok(nets.to_vec());
    }
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(vec![net]);
    }
    entry
        .parse::<IpAddr>()
        .map(|ip| vec![IpNet::from(ip)])
        .map_err(|_| {
            format!("`{entry}` is neither an IP address, a CIDR (10.0.0.0/8) nor one of {KEYWORDS}")
        })
}

/// The kind of internal address `ip` is, if it is one.
fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => kind_v4(v4),
            None => kind_v6(v6),
        },
    }
}

fn kind_v4(ip: Ipv4Addr) -> Option<&'static str> {
    FORBIDDEN_V4
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| *kind)
}

fn kind_v6(ip: Ipv6Addr) -> Option<&'static str> {
    FORBIDDEN_V6
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| *kind)
}

/// The IPv4 address an IPv6 address leads to: IPv4-mapped (`::ffff:a.b.c.d`, which a
/// dual-stack socket connects to a.b.c.d), IPv4-compatible (`::a.b.c.d`, deprecated, still
/// understood by some stacks) and NAT64 (`64:ff9b::a.b.c.d`, which a NAT64 gateway
/// translates to a.b.c.d). Judging these by their IPv6 form would let `::ffff:127.0.0.1`
/// through. `::` and `::1` are themselves, not IPv4-compatible addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = ip.octets();
    let v4 = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(v4),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(v4),
        _ => None,
    }
}

/// "a" or "an" before a kind; the kinds are worded so that the first letter decides ("an
/// unspecified address", "a private (unique local) address").
fn article(kind: &str) -> &'static str {
    match kind.trim_start_matches('"').chars().next() {
        Some(c) if "aeiouAEIOU".contains(c) => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn kind_of(guard: &TargetGuard, text: &str) -> Option<&'static str> {
        guard.check_ip(ip(text)).err().map(|refusal| refusal.kind)
    }

    #[test]
    fn strict_refuses_every_internal_ipv4_class() {
        let guard = TargetGuard::strict();
        let cases = [
            ("0.0.0.0", "unspecified address"),
            ("0.1.2.3", "\"this network\" address"),
            ("10.0.0.1", "private address"),
            ("10.255.255.255", "private address"),
            ("100.64.0.1", "shared (carrier-grade NAT) address"),
            ("100.127.255.254", "shared (carrier-grade NAT) address"),
            ("100.100.100.200", METADATA),
            ("127.0.0.1", "loopback address"),
            ("127.255.0.9", "loopback address"),
            ("169.254.1.1", "link-local address"),
            ("169.254.169.254", METADATA),
            ("172.16.0.1", "private address"),
            ("172.31.255.255", "private address"),
            ("192.0.0.8", "IETF protocol assignment address"),
            ("192.168.1.1", "private address"),
            ("198.18.0.1", "benchmarking address"),
            ("198.19.255.255", "benchmarking address"),
            ("224.0.0.1", "multicast address"),
            ("239.255.255.250", "multicast address"),
            ("240.0.0.1", "reserved address"),
            ("255.255.255.255", "broadcast address"),
        ];
        for (address, kind) in cases {
            assert_eq!(kind_of(&guard, address), Some(kind), "{address}");
        }
    }

    #[test]
    fn strict_lets_public_ipv4_through() {
        let guard = TargetGuard::strict();
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn strict_refuses_every_internal_ipv6_class() {
        let guard = TargetGuard::strict();
        let cases = [
            ("::", "unspecified address"),
            ("::1", "loopback address"),
            ("fc00::1", "private (unique local) address"),
            ("fdff:ffff::1", "private (unique local) address"),
            ("fd00:ec2::254", METADATA),
            ("fe80::1", "link-local address"),
            ("febf::1", "link-local address"),
            ("fec0::1", "site-local address"),
            ("ff02::1", "multicast address"),
        ];
        for (address, kind) in cases {
            assert_eq!(kind_of(&guard, address), Some(kind), "{address}");
        }
        for address in [
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "fbff::1",
            "::2:1:1",
        ] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn ipv6_forms_of_an_ipv4_address_are_judged_by_it() {
        let guard = TargetGuard::strict();
        let cases = [
            ("::ffff:127.0.0.1", "loopback address"),
            ("::ffff:7f00:1", "loopback address"),
            ("::ffff:169.254.169.254", METADATA),
            ("::ffff:10.1.2.3", "private address"),
            ("::127.0.0.1", "loopback address"),
            ("::10.0.0.1", "private address"),
            ("64:ff9b::127.0.0.1", "loopback address"),
            ("64:ff9b::192.168.0.1", "private address"),
            ("::ffff:0.0.0.0", "unspecified address"),
        ];
        for (address, kind) in cases {
            assert_eq!(kind_of(&guard, address), Some(kind), "{address}");
        }
        for address in ["::ffff:8.8.8.8", "64:ff9b::1.1.1.1", "::8.8.8.8"] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn a_refusal_keeps_the_address_as_given_and_says_why() {
        let refusal = TargetGuard::strict().check_ip(ip("127.0.0.1")).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "127.0.0.1 is a loopback address; ontime calls it only if the operator allows it \
             (--allow-targets)"
        );
        let mapped = TargetGuard::strict()
            .check_ip(ip("::ffff:169.254.169.254"))
            .unwrap_err();
        assert_eq!(mapped.ip, ip("::ffff:169.254.169.254"));
        assert!(
            mapped.to_string().starts_with(
                "::ffff:169.254.169.254 is a cloud metadata address; ontime calls it only"
            ),
            "{mapped}"
        );
        let unspecified = TargetGuard::strict().check_ip(ip("::")).unwrap_err();
        assert!(
            unspecified
                .to_string()
                .starts_with(":: is an unspecified address"),
            "{unspecified}"
        );
    }

    #[test]
    fn every_kind_reads_well_after_its_article() {
        let kinds = FORBIDDEN_V4
            .iter()
            .map(|(_, kind)| *kind)
            .chain(FORBIDDEN_V6.iter().map(|(_, kind)| *kind));
        let phrases: Vec<String> = kinds
            .map(|kind| format!("{} {kind}", article(kind)))
            .collect();
        for phrase in &phrases {
            let wrong = [
                "a unspecified",
                "an private",
                "a IETF",
                "an \"this",
                "an unique",
            ];
            assert!(!wrong.iter().any(|w| phrase.starts_with(w)), "{phrase}");
        }
        assert!(phrases.contains(&"an IETF protocol assignment address".to_owned()));
        assert!(phrases.contains(&"a \"this network\" address".to_owned()));
    }

    #[test]
    fn loopback_allows_loopback_only() {
        let guard = TargetGuard::loopback();
        for address in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
        for address in ["10.0.0.1", "169.254.169.254", "0.0.0.0", "::", "fe80::1"] {
            assert!(guard.check_ip(ip(address)).is_err(), "{address}");
        }
    }

    #[test]
    fn off_allows_everything() {
        let guard = TargetGuard::off();
        for address in [
            "127.0.0.1",
            "169.254.169.254",
            "::1",
            "fd00:ec2::254",
            "8.8.8.8",
        ] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn an_allowed_net_permits_what_it_contains_and_nothing_more() {
        let guard = TargetGuard::allowing([net("10.1.0.0/16")]).with([net("fd12::/16")]);
        assert_eq!(guard.check_ip(ip("10.1.200.3")), Ok(()));
        assert_eq!(guard.check_ip(ip("::ffff:10.1.200.3")), Ok(()));
        assert_eq!(guard.check_ip(ip("fd12::9")), Ok(()));
        assert_eq!(kind_of(&guard, "10.2.0.1"), Some("private address"));
        assert_eq!(kind_of(&guard, "127.0.0.1"), Some("loopback address"));
        assert_eq!(
            kind_of(&guard, "fd13::1"),
            Some("private (unique local) address")
        );
    }

    #[test]
    fn an_allowed_mapped_form_permits_the_ipv4_address_too_and_back() {
        let v6_form = TargetGuard::allowing([net("::ffff:127.0.0.1/128")]);
        assert_eq!(v6_form.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
        let v4_form = TargetGuard::allowing([net("127.0.0.1/32")]);
        assert_eq!(v4_form.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(v4_form.check_ip(ip("127.0.0.1")), Ok(()));
        assert!(v4_form.check_ip(ip("127.0.0.2")).is_err());
    }

    #[test]
    fn parse_reads_keywords_addresses_and_cidrs() {
        assert_eq!(TargetGuard::parse(""), Ok(TargetGuard::strict()));
        assert_eq!(TargetGuard::parse(" , "), Ok(TargetGuard::strict()));
        assert_eq!(TargetGuard::parse("none"), Ok(TargetGuard::strict()));
        assert_eq!(TargetGuard::parse("all"), Ok(TargetGuard::off()));
        assert_eq!(TargetGuard::parse("ALL"), Ok(TargetGuard::off()));
        assert_eq!(TargetGuard::parse("loopback"), Ok(TargetGuard::loopback()));
        assert_eq!(
            TargetGuard::parse("loopback, all"),
            Ok(TargetGuard::off()),
            "aggregated: all covers loopback"
        );
        assert_eq!(
            TargetGuard::parse("127.0.0.0/8,::1"),
            Ok(TargetGuard::loopback())
        );
        let guard = TargetGuard::parse("private, link-local, 203.0.113.7, 2001:db8::/32").unwrap();
        for address in [
            "10.0.0.1",
            "172.20.0.1",
            "192.168.0.1",
            "fd00::1",
            "169.254.169.254",
            "fe80::1",
        ] {
            assert_eq!(guard.check_ip(ip(address)), Ok(()), "{address}");
        }
        assert!(guard.check_ip(ip("127.0.0.1")).is_err());
        assert!(guard.check_ip(ip("100.64.0.1")).is_err());
        assert!(guard.allowed().contains(&net("203.0.113.7/32")));
        assert!(guard.allowed().contains(&net("2001:db8::/32")));
    }

    #[test]
    fn parse_refuses_what_it_does_not_understand() {
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "10.0.0",
            "private;loopback",
            "127.0.0.1/8/2",
        ] {
            let error = TargetGuard::parse(bad).unwrap_err();
            assert!(error.contains("is neither an IP address"), "{bad}: {error}");
        }
        let error = TargetGuard::parse("none, loopback").unwrap_err();
        assert!(error.contains("cannot be combined"), "{error}");
    }

    #[test]
    fn describe_says_what_is_allowed() {
        assert!(TargetGuard::strict().describe().starts_with("strict"));
        assert!(TargetGuard::off().describe().starts_with("off"));
        assert_eq!(
            TargetGuard::loopback().describe(),
            "allowing 127.0.0.0/8, ::1/128; other internal addresses are refused"
        );
    }

    #[test]
    fn check_url_judges_ip_literals() {
        let guard = TargetGuard::strict();
        let cases = [
            ("http://127.0.0.1:8080/x", "127.0.0.1"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://[::1]/", "::1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[fd00:ec2::254]/", "fd00:ec2::254"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://user:pw@10.0.0.1/", "10.0.0.1"),
        ];
        for (url, address) in cases {
            let refusal = guard.check_url(url).unwrap_err();
            assert_eq!(refusal.ip, ip(address), "{url}");
        }
    }

    #[test]
    fn check_url_leaves_names_and_bad_urls_alone() {
        let guard = TargetGuard::strict();
        for url in [
            "http://localhost/",
            "https://metadata.google.internal/",
            "https://api.example.com/hook",
            "http://8.8.8.8/",
            "not a url",
            "mailto:someone@example.com",
            "",
        ] {
            assert_eq!(guard.check_url(url), Ok(()), "{url}");
        }
        assert_eq!(
            TargetGuard::loopback().check_url("http://127.0.0.1:8080/"),
            Ok(())
        );
    }
}

//! Where a node is reached and where it joins: the advertised address,
//! and seed names resolved anew at every join attempt and every rejoin.

use super::DriverError;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;

/// Turns a seed `host:port` into addresses. The default asks the system
/// (`getaddrinfo`); a program with its own discovery, or a test, may set
/// another with [`Node::set_resolver`](super::Node::set_resolver).
pub type Resolver = Arc<dyn Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// The system resolver: every address the name has.
pub fn system_resolver() -> Resolver {
    Arc::new(|name: &str| name.to_socket_addrs().map(Iterator::collect))
}

/// The address other members are told to use: `advertise` when given (its
/// port 0 meaning the bound port), else the bound address, unless that is
/// unspecified (`0.0.0.0`, `[::]`): then the address this host would send
/// from to a public address of the same family, found with a UDP
/// `connect`, which sends nothing.
pub(super) fn advertised(
    bound: SocketAddr,
    advertise: Option<SocketAddr>,
) -> Result<SocketAddr, DriverError> {
    if let Some(mut a) = advertise {
        if a.ip().is_unspecified() {
            return Err(DriverError::UnspecifiedAddress(a));
        }
        if a.port() == 0 {
            a.set_port(bound.port());
        }
        return Ok(a);
    }
    if !bound.ip().is_unspecified() {
        return Ok(bound);
    }
    let ip = routable(bound.ip()).ok_or(DriverError::UnspecifiedAddress(bound))?;
    Ok(SocketAddr::new(ip, bound.port()))
}

/// The source address the kernel picks for a public destination of
/// `family`'s kind (TEST-NET-free public addresses: a root DNS server), or
/// `None` without such a route or with only a loopback address.
fn routable(family: IpAddr) -> Option<IpAddr> {
    let (any, public): (IpAddr, SocketAddr) = match family {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED.into(), "198.41.0.4:53".parse().ok()?),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED.into(), "[2001:503:ba3e::2:30]:53".parse().ok()?),
    };
    let probe = UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
    probe.connect(public).ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Seeds resolved for one join attempt.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Where the Meets go: every address of every seed, of this node's
    /// address family, this node's own left out.
    pub addrs: Vec<SocketAddr>,
    /// Each seed as given, with why it gave no address (`None`: it gave
    /// at least one).
    pub seeds: Vec<(String, Option<&'static str>)>,
}

/// Why a seed is left out when it is this node's own address.
pub const OWN: &str = "this node's own address";

/// Resolves `seeds` with `resolver` for a node advertised at `me`.
pub(super) fn resolve(resolver: &Resolver, seeds: &[String], me: SocketAddr) -> Resolved {
    let mut out = Resolved::default();
    for seed in seeds {
        let found = match seed.parse::<SocketAddr>() {
            Ok(a) => Ok(vec![a]),
            Err(_) => resolver(seed),
        };
        let note = match found {
            Err(_) => Some("does not resolve"),
            Ok(all) if all.is_empty() => Some("does not resolve"),
            Ok(all) => {
                // A socket of one family cannot send to the other's addresses.
                let usable: Vec<SocketAddr> =
                    all.into_iter().filter(|a| a.is_ipv4() == me.is_ipv4()).collect();
                let fresh: Vec<SocketAddr> = usable.iter().copied().filter(|a| *a != me).collect();
                if usable.is_empty() {
                    Some(if me.is_ipv4() { "no IPv4 address" } else { "no IPv6 address" })
                } else if fresh.is_empty() {
                    Some(OWN)
                } else {
                    for a in fresh {
                        if !out.addrs.contains(&a) {
                            out.addrs.push(a);
                        }
                    }
                    None
                }
            }
        };
        out.seeds.push((seed.clone(), note));
    }
    out
}

//! Closed ports reported by the OS (Linux): with `IP_RECVERR` /
//! `IPV6_RECVERR` on the node's UDP socket, an ICMP port-unreachable for
//! a datagram it sent is queued on the socket's error queue together with
//! the datagram's destination. [`closed_ports`] reads that queue and names
//! each destination found closed, for `Engine::handle_unreachable` (crash
//! detection from evidence, issue 17). Elsewhere nothing is reported and
//! the engine falls back on Lifeguard's suspicion, as before.
//!
//! Read through nix's safe wrappers of `setsockopt` and
//! `recvmsg(MSG_ERRQUEUE)` (std, tokio and socket2 do not wrap the error
//! queue), so the crate keeps `#![forbid(unsafe_code)]`.

use core::net::SocketAddr;

/// Error-queue entries read per call at most: a node cannot hold its
/// runtime thread for long (one entry per refused datagram).
#[cfg(target_os = "linux")]
const BATCH: usize = 64;

#[cfg(target_os = "linux")]
mod linux {
    use core::net::{SocketAddr, SocketAddrV4};
    use std::io::IoSliceMut;
    use std::os::fd::{AsFd, AsRawFd};

    use nix::libc::{sock_extended_err, sockaddr_in6, SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6};
    use nix::sys::socket::{
        recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
    };

    /// Asks the kernel to queue ICMP errors on `socket`. On an IPv6 socket
    /// both options (an IPv4-mapped peer's errors come as IPv4 ones).
    pub(super) fn enable(socket: &impl AsFd, v6: bool) -> bool {
        if v6 {
            let six = setsockopt(socket, sockopt::Ipv6RecvErr, &true).is_ok();
            let _ = setsockopt(socket, sockopt::Ipv4RecvErr, &true);
            six
        } else {
            setsockopt(socket, sockopt::Ipv4RecvErr, &true).is_ok()
        }
    }

    /// Reads one entry of `socket`'s error queue, without waiting:
    /// `Some(Some(addr))` for a port-unreachable about a datagram to
    /// `addr`, `Some(None)` for another error, `None` once empty.
    pub(super) fn next(socket: &impl AsRawFd) -> Option<Option<SocketAddr>> {
        // Room for one error and its offender (the ICMP sender), the
        // largest of the two families; the queued datagram is cut to a
        // byte (only its destination, in the message's name, matters).
        let mut control = nix::cmsg_space!(sock_extended_err, sockaddr_in6);
        let mut data = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut data)];
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let msg =
            recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), flags)
                .ok()?;
        let refused = |e: &sock_extended_err, icmp: u8| {
            e.ee_errno == nix::errno::Errno::ECONNREFUSED as u32 && e.ee_origin == icmp
        };
        // A truncated control buffer (not expected) reads as another error.
        let found = msg.cmsgs().into_iter().flatten().any(|c| match c {
            ControlMessageOwned::Ipv4RecvErr(e, _) => refused(&e, SO_EE_ORIGIN_ICMP),
            ControlMessageOwned::Ipv6RecvErr(e, _) => refused(&e, SO_EE_ORIGIN_ICMP6),
            _ => false,
        });
        if !found {
            return Some(None);
        }
        // The message's name is the refused datagram's destination.
        Some(msg.address.as_ref().and_then(to_addr))
    }

    fn to_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = s.as_sockaddr_in() {
            return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
        }
        let v6 = core::net::SocketAddrV6::from(*s.as_sockaddr_in6()?);
        // An IPv4 peer of a dual-stack socket, as the engine knows it.
        Some(match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => SocketAddr::V6(v6),
        })
    }
}

/// Turns on the error queue for `socket`: whether closed ports will be
/// reported (Linux only).
#[cfg(target_os = "linux")]
pub(super) fn enable(socket: &std::net::UdpSocket) -> bool {
    let v6 = socket.local_addr().is_ok_and(|a| a.is_ipv6());
    linux::enable(socket, v6)
}

/// Elsewhere the OS reports nothing this way.
#[cfg(not(target_os = "linux"))]
pub(super) fn enable(_socket: &std::net::UdpSocket) -> bool {
    false
}

/// Empties (up to a batch of) `socket`'s error queue, calling `refused`
/// with each destination found closed; returns how many entries were read.
#[cfg(target_os = "linux")]
pub(super) fn closed_ports(
    socket: &impl std::os::fd::AsRawFd,
    mut refused: impl FnMut(SocketAddr),
) -> usize {
    let mut n = 0;
    while n < BATCH {
        match linux::next(socket) {
            None => break,
            Some(found) => {
                n += 1;
                if let Some(addr) = found {
                    refused(addr);
                }
            }
        }
    }
    n
}

/// Elsewhere there is no error queue to read.
#[cfg(not(target_os = "linux"))]
pub(super) fn closed_ports<S>(_socket: &S, _refused: impl FnMut(SocketAddr)) -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    /// Sends to a port just closed on `host` and reads the error queue
    /// until it names that destination (loopback answers at once; the
    /// deadline only bounds a broken run).
    fn refused_destination(host: &str) {
        let socket = UdpSocket::bind((host, 0)).unwrap();
        assert!(enable(&socket), "the error queue is on");
        socket.set_nonblocking(true).unwrap();
        let closed = UdpSocket::bind((host, 0)).unwrap().local_addr().unwrap();
        socket.send_to(b"ping", closed).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = None;
        while found.is_none() && Instant::now() < deadline {
            if closed_ports(&socket, |a| found = Some(a)) == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert_eq!(found, Some(closed), "the refused datagram's destination, not the ICMP sender");
    }

    #[test]
    fn a_closed_port_is_named_by_its_destination_on_ipv4_and_ipv6() {
        refused_destination("127.0.0.1");
        // IPv6 loopback may be off in some containers: then nothing to check.
        if UdpSocket::bind("[::1]:0").is_ok() {
            refused_destination("::1");
        }
    }

    #[test]
    fn an_empty_queue_reads_nothing() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(enable(&socket));
        assert_eq!(closed_ports(&socket, |_| panic!("nothing was refused")), 0);
    }
}

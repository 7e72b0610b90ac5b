//! Closed ports reported by the OS (Linux): with `IP_RECVERR` /
//! `IPV6_RECVERR` on the node's UDP socket, an ICMP port-unreachable for
//! a datagram it sent is queued on the socket's error queue together with
//! the datagram's destination. [`closed_ports`] reads that queue and names
//! each destination found closed, for `Engine::handle_unreachable` (crash
//! detection from evidence, issue 17). Elsewhere nothing is reported and
//! the engine falls back on Lifeguard's suspicion, as before.
//!
//! The only `unsafe` of the crate: two libc calls (`setsockopt`,
//! `recvmsg`) that std, tokio and socket2 do not wrap for the error queue.

use core::net::SocketAddr;

/// Error-queue entries read per call at most: a node cannot hold its
/// runtime thread for long (one entry per refused datagram).
#[cfg(target_os = "linux")]
const BATCH: usize = 64;

#[cfg(target_os = "linux")]
mod linux {
    #![allow(unsafe_code)]

    use core::mem::{size_of, zeroed};
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::{AsRawFd, RawFd};

    /// `SO_EE_ORIGIN_ICMP` and `SO_EE_ORIGIN_ICMP6` (linux/errqueue.h).
    const ORIGIN_ICMP: u8 = 2;
    const ORIGIN_ICMP6: u8 = 3;

    /// `struct sock_extended_err` (linux/errqueue.h).
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct ExtendedErr {
        errno: u32,
        origin: u8,
        kind: u8,
        code: u8,
        pad: u8,
        info: u32,
        data: u32,
    }

    fn set(fd: RawFd, level: libc::c_int, name: libc::c_int) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: `fd` is a live socket borrowed for the call; the option
        // value points at `on`, which outlives the call, with its size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        r == 0
    }

    /// Asks the kernel to queue ICMP errors on `socket`. On an IPv6 socket
    /// both options (an IPv4-mapped peer's errors come as IPv4 ones).
    pub(super) fn enable(socket: &impl AsRawFd, v6: bool) -> bool {
        let fd = socket.as_raw_fd();
        if v6 {
            let six = set(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR);
            let _ = set(fd, libc::IPPROTO_IP, libc::IP_RECVERR);
            six
        } else {
            set(fd, libc::IPPROTO_IP, libc::IP_RECVERR)
        }
    }

    /// Reads one entry of `socket`'s error queue, without waiting:
    /// `Some(Some(addr))` for a port-unreachable about a datagram to
    /// `addr`, `Some(None)` for another error, `None` once empty.
    pub(super) fn next(socket: &impl AsRawFd) -> Option<Option<SocketAddr>> {
        // SAFETY: all-zero is a valid `sockaddr_storage`, `msghdr` and
        // `iovec`; every pointer put in `msg` points at a local that
        // outlives the call, with its length; the kernel writes at most
        // those lengths. The control buffer is 8-aligned (u64), as
        // `cmsghdr` needs, and the CMSG_* macros stay within
        // `msg_controllen` as the kernel set it.
        unsafe {
            let mut name: libc::sockaddr_storage = zeroed();
            let mut control = [0u64; 64];
            let mut data = [0u8; 1];
            let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 64]>() as _;
            let flags = libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT;
            if libc::recvmsg(socket.as_raw_fd(), &mut msg, flags) < 0 {
                return None;
            }
            let mut refused = false;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
                let ours = (level == libc::IPPROTO_IP && kind == libc::IP_RECVERR)
                    || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_RECVERR);
                if ours {
                    let e: ExtendedErr = core::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    refused |= e.errno == libc::ECONNREFUSED as u32
                        && (e.origin == ORIGIN_ICMP || e.origin == ORIGIN_ICMP6);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            if !refused {
                return Some(None);
            }
            Some(to_addr(&name))
        }
    }

    fn to_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match s.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a: libc::sockaddr_in =
                    unsafe { core::ptr::read((s as *const libc::sockaddr_storage).cast()) };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a: libc::sockaddr_in6 =
                    unsafe { core::ptr::read((s as *const libc::sockaddr_storage).cast()) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                let port = u16::from_be(a.sin6_port);
                let v6 = SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id);
                // An IPv4 peer of a dual-stack socket, as the engine knows it.
                Some(match ip.to_ipv4_mapped() {
                    Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
                    None => SocketAddr::V6(v6),
                })
            }
            _ => None,
        }
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

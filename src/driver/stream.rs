//! The stream path: payloads too big for a datagram (a large broadcast or
//! value, an anti-entropy answer past `sync_max_datagrams`) go over TCP,
//! one connection per payload, to the same port number as the member's UDP
//! socket (memberlist does the same).
//!
//! A connection carries one frame: `b"RmS\x01"`, the sender's gossip
//! address (u16 length, then `ip:port` text, so the receiver can tell which
//! member it is), the payload length (u32) and the payload, which the engine
//! decodes like a datagram. Anything else is dropped and counted.

use super::{DriverError, Shared};
use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const MAGIC: &[u8; 4] = b"RmS\x01";
/// Longest `ip:port` text a frame may name (an IPv6 address with a scope
/// and a port fits well within it).
const MAX_ADDR_TEXT: usize = 64;
/// Time one frame may take to connect and transfer, either way.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Incoming streams read at the same time, at most; more wait in the
/// listener's backlog.
pub(super) const MAX_INCOMING: usize = 16;

/// Binds the UDP socket at `bind` and, if `streams`, a TCP listener on the
/// same address and port. With port 0 the pair is retried until both get
/// the same free port.
pub(super) fn bind_pair(
    bind: SocketAddr,
    streams: bool,
) -> Result<(StdUdpSocket, Option<StdTcpListener>), DriverError> {
    let mut last = None;
    for _ in 0..16 {
        let udp = StdUdpSocket::bind(bind).map_err(DriverError::Bind)?;
        grow_receive_buffer(&udp);
        if !streams {
            return Ok((udp, None));
        }
        let addr = udp.local_addr().map_err(DriverError::Bind)?;
        match StdTcpListener::bind(addr) {
            Ok(tcp) => return Ok((udp, Some(tcp))),
            Err(e) if bind.port() == 0 => last = Some(e),
            Err(e) => return Err(DriverError::Bind(e)),
        }
    }
    Err(DriverError::Bind(last.unwrap_or_else(|| std::io::Error::other("no free port"))))
}

/// The receive buffer memberlist asks for: 2 MiB. Linux caps the request
/// at `net.core.rmem_max` and doubles it for its bookkeeping, so a stock
/// kernel (rmem_max 208 KiB) gives 416 KiB, twice the default buffer. A
/// burst of gossip that outruns the node's task for a moment then waits in
/// the buffer instead of being dropped. Failure leaves the default buffer,
/// which works, with less slack.
const RECEIVE_BUFFER: usize = 2 << 20;

fn grow_receive_buffer(udp: &StdUdpSocket) {
    let _ = socket2::SockRef::from(udp).set_recv_buffer_size(RECEIVE_BUFFER);
}

/// One frame, ready to write.
fn frame(from: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let addr = from.to_string();
    let mut f = Vec::with_capacity(4 + 2 + addr.len() + 4 + payload.len());
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&(addr.len() as u16).to_le_bytes());
    f.extend_from_slice(addr.as_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// Sends `payload` to the member at `dst` over a fresh connection.
pub(super) async fn send(shared: Arc<Shared>, dst: SocketAddr, payload: Vec<u8>) {
    let bytes = frame(shared.addr, &payload);
    let mut refused = false;
    let sent = tokio::time::timeout(TIMEOUT, async {
        let mut conn = TcpStream::connect(dst)
            .await
            .inspect_err(|e| refused = e.kind() == std::io::ErrorKind::ConnectionRefused)?;
        conn.write_all(&bytes).await?;
        conn.shutdown().await
    })
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        shared.send_errors.fetch_add(1, Ordering::Relaxed);
    }
    if refused {
        // Nothing listens on the member's port: crash evidence if that
        // member is being probed, which the probe path must still confirm.
        shared.engine.lock().handle_refused_connect(shared.now(), dst);
        shared.wake.notify_one(); // the check Ping, if any, goes out now
    }
}

/// Accepts connections until the node closes, reading each frame on a task
/// of its own (at most [`MAX_INCOMING`] at once).
pub(super) async fn accept(shared: Arc<Shared>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_INCOMING));
    let shutdown = shared.shutdown_streams.notified();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            p = slots.clone().acquire_owned() => p,
        };
        let Ok(permit) = permit else { return };
        let conn = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => r,
        };
        let (conn, peer) = match conn {
            Ok(c) => c,
            Err(_) => {
                // Out of file handles, say: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            receive(shared, conn, peer).await;
        });
    }
}

/// Reads one frame and hands its payload to the engine. The frame must
/// come from the IP address of the member it names.
async fn receive(shared: Arc<Shared>, mut conn: TcpStream, peer: SocketAddr) {
    let max = shared.engine.lock().config().stream_frame_limit();
    let read = tokio::time::timeout(TIMEOUT, async {
        let mut head = [0u8; 6];
        conn.read_exact(&mut head).await.ok()?;
        if &head[..4] != MAGIC {
            return None;
        }
        let addr_len = usize::from(u16::from_le_bytes([head[4], head[5]]));
        if addr_len > MAX_ADDR_TEXT {
            return None;
        }
        let mut addr = vec![0u8; addr_len];
        conn.read_exact(&mut addr).await.ok()?;
        let from: SocketAddr = std::str::from_utf8(&addr).ok()?.parse().ok()?;
        if from.ip() != peer.ip() {
            return None; // a frame naming someone else's address
        }
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).await.ok()?;
        let len = u32::from_le_bytes(len) as usize;
        if len > max {
            return None;
        }
        // Grown as bytes arrive, not allocated up front on a length claim.
        let mut payload = Vec::with_capacity(len.min(64 * 1024));
        (&mut conn).take(len as u64).read_to_end(&mut payload).await.ok()?;
        (payload.len() == len).then_some((from, payload))
    })
    .await;
    match read {
        Ok(Some((from, payload))) => {
            {
                let mut engine = shared.engine.lock();
                let now = shared.now();
                engine.handle_stream(now, from, &payload);
            }
            shared.wake.notify_one();
        }
        _ => {
            shared.streams_refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_the_sender_and_the_length() {
        let from: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        let f = frame(from, b"abc");
        assert_eq!(&f[..4], MAGIC);
        assert_eq!(u16::from_le_bytes([f[4], f[5]]), 14);
        assert_eq!(&f[6..20], b"127.0.0.1:7946");
        assert_eq!(&f[20..24], &3u32.to_le_bytes());
        assert_eq!(&f[24..], b"abc");
    }
}

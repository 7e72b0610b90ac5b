//! The outbox: what the engine hands its driver (datagrams, stream payloads
//! and events), the counters of what it sent and received, and the keyring
//! that seals every datagram. Every part of the engine sends through it.

use super::event::Event;
use super::member::{Member, MemberState};
use super::stats::Stats;
use super::table::{Entry, Ident};
use crate::codec::{self, DatagramBuilder, Encode, Keyring, Message};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// A datagram the driver must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// The encoded datagram (or stream payload).
    pub payload: Vec<u8>,
    /// Send it over a reliable stream (TCP) to `dst`, not as a datagram: it
    /// may be up to `Config::stream_frame_limit` bytes. The receiver hands it to
    /// [`Engine::handle_stream`](super::Engine::handle_stream).
    pub stream: bool,
}

/// Gives back a queue's room once a burst drained (a mass join leaves room
/// for a thousand events in every engine, 14 bytes per member entry, long
/// after they were read): when a quarter full or less, to half full, so a
/// shrink, O(len), comes after at least as many pops (amortized O(1), never
/// per operation); never below [`MIN_ROOM`](super::piggyback::MIN_ROOM),
/// so small bursts reuse their room.
fn shrink<T>(q: &mut VecDeque<T>) {
    let (len, cap) = (q.len(), q.capacity());
    if cap > super::piggyback::MIN_ROOM && len * 4 <= cap {
        q.shrink_to(len * 2);
    }
}

/// An event as queued for the driver.
#[derive(Debug)]
pub(crate) enum Queued {
    /// Boxed, so that a queued event is 32 bytes, not an [`Event`]'s: the
    /// 10⁸ `Joined` below of a mass join are each written into the queue,
    /// and a large element there is a `memmove` call each (2 % of a
    /// 5,000-node join). Other events are few.
    Ready(Box<Event>),
    /// [`Event::Joined`] of a member learned from an Alive claim, held as
    /// the shared ident until the driver takes it: the [`Member`] (a copy
    /// of its name and metadata) is built only then, and never for a
    /// driver that skips it ([`Outbox::skip_joined`]). A mass join of
    /// 10,000 reports 10⁸ of these; their names' allocations were a tenth
    /// of its time.
    Joined { ident: Arc<Ident>, incarnation: u64, since: Duration },
}

impl Queued {
    fn into_event(self) -> Event {
        match self {
            Queued::Ready(event) => *event,
            Queued::Joined { ident, incarnation, since } => Event::Joined(Member {
                name: String::from(&*ident.name),
                addr: ident.addr,
                incarnation,
                state: MemberState::Alive,
                meta: ident.meta.to_vec(),
                since,
            }),
        }
    }
}

/// Outgoing transmits and events, the counters, and the keyring.
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Queued>,
    pub(crate) stats: Stats,
    /// Seals and opens every datagram when the config has keys.
    pub(crate) keyring: Option<Keyring>,
    max_packet_size: usize,
    stream_frame_limit: usize,
}

impl Outbox {
    pub(crate) fn new(
        keyring: Option<Keyring>,
        max_packet_size: usize,
        stream_frame_limit: usize,
    ) -> Outbox {
        Outbox {
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            keyring,
            max_packet_size,
            stream_frame_limit,
        }
    }

    /// Bytes a datagram's messages may take: `max_packet_size`, less what
    /// sealing adds.
    pub(crate) fn packet_budget(&self) -> usize {
        self.max_packet_size - self.seal_overhead()
    }

    /// Bytes a stream payload's messages may take (0: streams are off).
    pub(crate) fn stream_budget(&self) -> usize {
        self.stream_frame_limit.saturating_sub(self.seal_overhead())
    }

    fn seal_overhead(&self) -> usize {
        if self.keyring.is_some() {
            codec::SEAL_OVERHEAD
        } else {
            0
        }
    }

    /// A fresh datagram of `packet_budget` bytes.
    pub(crate) fn datagram(&self) -> DatagramBuilder {
        DatagramBuilder::new(self.packet_budget())
    }

    /// The next transmit for the driver.
    pub(crate) fn pop_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front();
        shrink(&mut self.transmits);
        t
    }

    /// The next event for the driver.
    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        // Not shrunk here: a burst of events every datagram (a mass join
        // reports dozens per datagram) would grow and shrink the queue
        // every time. [`Outbox::trim_events`] gives the room back.
        self.events.pop_front().map(Queued::into_event)
    }

    /// Gives back the room of a drained burst of events (see [`shrink`]),
    /// once per gossip round: the bursts of one round reuse their room.
    pub(crate) fn trim_events(&mut self) {
        shrink(&mut self.events);
    }

    /// Drops the next event if it is [`Event::Joined`]; says whether it did.
    pub(crate) fn skip_joined(&mut self) -> bool {
        let joined = match self.events.front() {
            Some(Queued::Joined { .. }) => true,
            Some(Queued::Ready(event)) => matches!(**event, Event::Joined(_)),
            None => false,
        };
        if joined {
            self.events.pop_front();
        }
        joined
    }

    /// Reports `event` to the driver.
    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(Queued::Ready(Box::new(event)));
    }

    /// Reports that the member of `entry`, learned from an Alive claim,
    /// joined (see [`Queued::Joined`]).
    pub(crate) fn joined(&mut self, entry: &Entry) {
        self.events.push_back(Queued::Joined {
            ident: entry.ident.clone(),
            incarnation: entry.incarnation,
            since: entry.since(),
        });
    }

    /// Appends `msg` to `b` even past its budget, counting it.
    pub(crate) fn push<M: Encode>(&mut self, b: &mut DatagramBuilder, msg: &M) {
        let before = b.bytes();
        b.push(msg);
        self.stats.count_sent(msg.kind(), b.bytes() - before);
    }

    /// Appends `msg` to `b` if it fits, counting it; returns whether it did.
    pub(crate) fn try_push<M: Encode>(&mut self, b: &mut DatagramBuilder, msg: &M) -> bool {
        let before = b.bytes();
        let ok = b.try_push(msg);
        if ok {
            self.stats.count_sent(msg.kind(), b.bytes() - before);
        }
        ok
    }

    /// Sends the datagram built in `b` (no-op if empty).
    pub(crate) fn transmit(&mut self, dst: SocketAddr, b: DatagramBuilder) {
        self.queue(dst, b, false);
    }

    /// Sends a stream payload built in `b` (no-op if empty).
    pub(crate) fn transmit_stream(&mut self, dst: SocketAddr, b: DatagramBuilder) {
        self.queue(dst, b, true);
    }

    fn queue(&mut self, dst: SocketAddr, b: DatagramBuilder, stream: bool) {
        if b.is_empty() {
            return;
        }
        let mut payload = b.finish();
        if let Some(k) = self.keyring.as_mut() {
            payload = k.seal(&payload);
        }
        if stream {
            self.stats.streams_sent += 1;
        } else {
            self.stats.packets_sent += 1;
        }
        self.stats.bytes_sent += payload.len() as u64;
        self.transmits.push_back(Transmit { dst, payload, stream });
    }

    /// Sends one message in a datagram of its own, or over a stream if it
    /// is too big for one.
    pub(crate) fn send_big(&mut self, dst: SocketAddr, msg: &Message) {
        let mut b = self.datagram();
        if self.try_push(&mut b, msg) {
            self.transmit(dst, b);
        } else {
            let mut b = DatagramBuilder::new(self.stream_budget());
            if self.stream_frame_limit > 0 && self.try_push(&mut b, msg) {
                self.transmit_stream(dst, b);
            } else {
                self.stats.items_oversized += 1;
            }
        }
    }

    /// Sends one message in a datagram of its own.
    pub(crate) fn send_alone(&mut self, dst: SocketAddr, msg: Message) {
        let mut b = self.datagram();
        self.push(&mut b, &msg);
        self.transmit(dst, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A drained burst of events gives its room back (issue 16: bytes per
    /// member entry).
    #[test]
    fn queues_give_back_room_once_drained() {
        let mut out = Outbox::new(None, 1400, 0);
        for _ in 0..1000 {
            out.event(Event::LeaveDone);
        }
        assert!(out.events.capacity() >= 1000);
        while out.pop_event().is_some() {}
        out.trim_events();
        assert!(out.events.capacity() <= super::super::piggyback::MIN_ROOM);
        out.event(Event::LeaveDone);
        assert!(out.pop_event().is_some());
    }

    /// A queued event is an ident, an incarnation and a time, whatever an [`Event`]
    /// holds: a mass join writes 10⁸ of them into the queue.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_queued_event_is_small() {
        assert!(core::mem::size_of::<Event>() > 64);
        assert_eq!(core::mem::size_of::<Queued>(), 32);
    }

    /// Events keep their order and content through the boxed and the
    /// unbuilt forms, and skipping takes a Joined of either form only.
    #[test]
    fn queued_events_come_out_as_they_went_in() {
        let names = super::super::table::Names::new();
        let entry = Entry::new(&names, &Member::new("a", "127.0.0.1:7".parse().unwrap()));
        let mut out = Outbox::new(None, 1400, 0);
        out.joined(&entry);
        out.event(Event::LeaveDone);
        out.joined(&entry);
        assert!(out.skip_joined());
        assert!(!out.skip_joined());
        assert!(matches!(out.pop_event(), Some(Event::LeaveDone)));
        match out.pop_event() {
            Some(Event::Joined(m)) => {
                assert_eq!((m.name.as_str(), m.state), ("a", MemberState::Alive))
            }
            other => panic!("expected the Joined, got {other:?}"),
        }
        assert!(out.pop_event().is_none());
    }
}

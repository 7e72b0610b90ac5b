//! The member table and the rules that order competing claims about a member.
//!
//! SWIM's rules (as in memberlist): a claim about incarnation `i` overrides
//! one about a lower incarnation; at the same incarnation `Suspect` overrides
//! `Alive`, and `Dead`/`Left` override both. Only the member itself raises
//! its incarnation, which is how it refutes an accusation.

use super::engine::{Engine, Entry, Table};
use super::event::Event;
use super::member::{Member, MemberState};
use super::timer::Timer;
use crate::codec::Message;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// The message that states what `members` holds about `name`. A free
/// function so callers can borrow the table while writing other fields.
pub(crate) fn state_message_of(members: &Table, name: &str) -> Option<Message> {
    let e = members.get(name)?;
    let m = &e.member;
    Some(match m.state {
        MemberState::Alive => Message::Alive {
            name: m.name.clone(),
            addr: m.addr,
            incarnation: m.incarnation,
            meta: m.meta.clone(),
        },
        MemberState::Suspect => Message::Suspect {
            name: m.name.clone(),
            incarnation: m.incarnation,
            from: e.accuser.clone(),
        },
        MemberState::Dead => Message::Dead {
            name: m.name.clone(),
            incarnation: m.incarnation,
            from: e.accuser.clone(),
        },
        MemberState::Left => Message::Left { name: m.name.clone(), incarnation: m.incarnation },
    })
}

impl Engine {
    /// Adds a member that was not in the table.
    pub(crate) fn insert(&mut self, member: Member, accuser: String) {
        self.counts[member.state as usize] += 1;
        let name = member.name.clone();
        self.roster.push(name.clone());
        let live = member.state.is_live();
        self.members.insert(name.clone(), Entry { member, accuser });
        if live && name != self.name {
            self.add_probe_target(name);
        }
    }

    /// Changes a known member's state, keeping the per-state counts right.
    pub(crate) fn set_state(&mut self, name: &str, state: MemberState, now: Duration) {
        let Some(e) = self.members.get_mut(name) else {
            return;
        };
        let old = e.member.state;
        if old == state {
            return;
        }
        e.member.state = state;
        e.member.since = now;
        self.counts[old as usize] -= 1;
        self.counts[state as usize] += 1;
        if !old.is_live() && state.is_live() && name != self.name {
            self.add_probe_target(String::from(name));
        }
    }

    /// Puts `name` at a random place among the members not yet probed this
    /// round, so a newcomer is probed within one round (memberlist does the
    /// same).
    fn add_probe_target(&mut self, name: String) {
        let start = self.probe_index.min(self.probe_order.len());
        let span = self.probe_order.len() - start + 1;
        let at = start + self.random_index(span);
        self.probe_order.insert(at, name);
    }

    /// Queues an update about `name` for gossip; a newer update about the
    /// same member replaces the older one and starts its count afresh.
    pub(crate) fn enqueue_broadcast(&mut self, name: &str) {
        self.broadcasts.push(name);
    }

    fn snapshot(&self, name: &str) -> Option<Member> {
        self.members.get(name).map(|e| e.member.clone())
    }

    /// The message that states what we know of `name`.
    pub(crate) fn state_message(&self, name: &str) -> Option<Message> {
        state_message_of(&self.members, name)
    }

    /// Someone claims `name` is alive at `incarnation`.
    pub(crate) fn apply_alive(
        &mut self,
        now: Duration,
        name: String,
        addr: SocketAddr,
        incarnation: u64,
        meta: Vec<u8>,
    ) {
        if name == self.name {
            // A claim about us from an earlier life (restart) or another
            // address: out-announce it.
            let me = self.local_member();
            if !self.leaving
                && (incarnation > me.incarnation
                    || (incarnation == me.incarnation && addr != me.addr))
            {
                self.refute(now, incarnation, MemberState::Alive);
            }
            return;
        }
        let Some(e) = self.members.get_mut(&name) else {
            let member = Member {
                name: name.clone(),
                addr,
                incarnation,
                state: MemberState::Alive,
                meta,
                since: now,
            };
            self.insert(member.clone(), String::new());
            self.enqueue_broadcast(&name);
            self.events.push_back(Event::Joined(member));
            return;
        };
        if incarnation <= e.member.incarnation {
            return;
        }
        let old = e.member.state;
        e.member.incarnation = incarnation;
        e.member.addr = addr;
        e.member.meta = meta;
        e.accuser.clear();
        self.set_state(&name, MemberState::Alive, now);
        self.enqueue_broadcast(&name);
        let Some(m) = self.snapshot(&name) else {
            return;
        };
        match old {
            MemberState::Alive => {}
            MemberState::Suspect => self.events.push_back(Event::Alive(m)),
            MemberState::Dead | MemberState::Left => self.events.push_back(Event::Joined(m)),
        }
    }

    /// `from` suspects `name` at `incarnation`.
    pub(crate) fn apply_suspect(
        &mut self,
        now: Duration,
        name: &str,
        incarnation: u64,
        from: String,
    ) {
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, MemberState::Suspect);
            }
            return;
        }
        let Some(e) = self.members.get_mut(name) else {
            return;
        };
        let state = e.member.state;
        let fresher = incarnation > e.member.incarnation;
        let applies = match state {
            MemberState::Alive => incarnation >= e.member.incarnation,
            MemberState::Suspect => fresher,
            MemberState::Dead | MemberState::Left => false,
        };
        if !applies {
            return;
        }
        e.member.incarnation = incarnation;
        e.accuser = from;
        self.start_suspicion(now, name, state == MemberState::Alive);
    }

    /// Marks `name` suspect (already at the right incarnation), arms its
    /// suspicion timer, gossips it and, if it was alive, reports it.
    pub(crate) fn start_suspicion(&mut self, now: Duration, name: &str, report: bool) {
        let Some(e) = self.members.get(name) else {
            return;
        };
        let incarnation = e.member.incarnation;
        self.set_state(name, MemberState::Suspect, now);
        let timeout = self.config.suspicion_timeout(self.live_members());
        self.timers.arm(now + timeout, Timer::Suspicion { name: String::from(name), incarnation });
        self.enqueue_broadcast(name);
        if report {
            if let Some(m) = self.snapshot(name) {
                self.events.push_back(Event::Suspected(m));
            }
        }
    }

    /// The suspicion of `name` at `incarnation` ran out: unless it was
    /// refuted meanwhile, the member is dead.
    pub(crate) fn suspicion_expired(&mut self, now: Duration, name: &str, incarnation: u64) {
        let Some(e) = self.members.get(name) else {
            return;
        };
        if e.member.state != MemberState::Suspect || e.member.incarnation != incarnation {
            return;
        }
        self.stats.failures_declared += 1;
        let me = self.name.clone();
        self.apply_dead(now, name, incarnation, me, MemberState::Dead);
    }

    /// `from` declares `name` dead (`state == Dead`) or `name` announces it
    /// left (`state == Left`), at `incarnation`.
    pub(crate) fn apply_dead(
        &mut self,
        now: Duration,
        name: &str,
        incarnation: u64,
        from: String,
        state: MemberState,
    ) {
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, state);
            }
            return;
        }
        let Some(e) = self.members.get_mut(name) else {
            return;
        };
        if !e.member.state.is_live() || incarnation < e.member.incarnation {
            return;
        }
        e.member.incarnation = incarnation;
        e.accuser = from;
        self.set_state(name, state, now);
        self.enqueue_broadcast(name);
        if let Some(m) = self.snapshot(name) {
            self.events.push_back(match state {
                MemberState::Left => Event::Left(m),
                _ => Event::Failed(m),
            });
        }
    }

    /// Another member holds a claim about us at `incarnation` that is wrong:
    /// announce ourselves alive with a higher incarnation.
    pub(crate) fn refute(&mut self, now: Duration, incarnation: u64, accusation: MemberState) {
        let name = self.name.clone();
        let Some(e) = self.members.get_mut(&name) else {
            return;
        };
        e.member.incarnation =
            (e.member.incarnation.max(incarnation) + 1).min(crate::codec::MAX_INCARNATION);
        e.member.since = now;
        let incarnation = e.member.incarnation;
        self.stats.refutations += 1;
        self.enqueue_broadcast(&name);
        self.events.push_back(Event::Refuted { accusation, incarnation });
    }
}

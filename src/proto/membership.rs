//! How the member table changes: the rules that order competing claims
//! about a member.
//!
//! SWIM's rules (as in memberlist): a claim about incarnation `i` overrides
//! one about a lower incarnation; at the same incarnation `Suspect` overrides
//! `Alive`, and `Dead`/`Left` override both. Only the member itself raises
//! its incarnation, which is how it refutes an accusation.

use super::engine::Engine;
use super::event::Event;
use super::member::{Member, MemberState};
use super::table::{Entry, Id, Table};
use crate::codec::{self, Message};
use alloc::string::String;
use core::time::Duration;

/// The message that states what `members` holds about member `id`. A free
/// function so callers can borrow the table while writing other fields.
pub(crate) fn state_message_of(members: &Table, id: Id) -> Option<Message> {
    if members.is_reaped(id) {
        return None; // gone: no claim about it goes out any more
    }
    let e = members.get(id)?;
    let m = &e.member;
    Some(match m.state {
        MemberState::Alive => Message::Alive(codec::Alive {
            name: m.name.clone(),
            addr: m.addr,
            incarnation: m.incarnation,
            meta: m.meta.clone(),
        }),
        MemberState::Suspect => Message::Suspect(codec::Accusation {
            name: m.name.clone(),
            incarnation: m.incarnation,
            from: e.accuser.clone(),
        }),
        MemberState::Dead => Message::Dead(codec::Accusation {
            name: m.name.clone(),
            incarnation: m.incarnation,
            from: e.accuser.clone(),
        }),
        MemberState::Left => {
            Message::Left(codec::Left { name: m.name.clone(), incarnation: m.incarnation })
        }
    })
}

impl Engine {
    /// Adds a member that was not in the table; returns its id.
    pub(crate) fn insert(&mut self, member: Member, accuser: String) -> Id {
        self.counts[member.state as usize] += 1;
        let live = member.state.is_live();
        let id = self.members.insert(Entry { member, accuser });
        if live && id != self.me {
            self.detector.watch(id);
        }
        id
    }

    /// Changes a known member's state, keeping the per-state counts right.
    pub(crate) fn set_state(&mut self, id: Id, state: MemberState, now: Duration) {
        let old = match self.members.get(id) {
            Some(e) if e.member.state != state => e.member.state,
            _ => return,
        };
        let Some(e) = self.members.get_mut(id) else {
            return;
        };
        e.member.state = state;
        e.member.since = now;
        if old == MemberState::Suspect {
            self.detector.clear_suspicion(id);
        }
        self.counts[old as usize] -= 1;
        self.counts[state as usize] += 1;
        if !old.is_live() && state.is_live() && id != self.me {
            self.detector.watch(id);
        }
    }

    /// Queues an update about member `id` for gossip; a newer update about
    /// the same member replaces the older one and starts its count afresh.
    pub(crate) fn enqueue_update(&mut self, id: Id) {
        self.piggyback.push(id);
    }

    pub(crate) fn snapshot(&self, id: Id) -> Option<Member> {
        self.members.get(id).map(|e| e.member.clone())
    }

    /// The message that states what we know of member `id`.
    pub(crate) fn state_message(&self, id: Id) -> Option<Message> {
        state_message_of(&self.members, id)
    }

    /// Someone claims `name` is alive at `incarnation`.
    pub(crate) fn apply_alive(&mut self, now: Duration, alive: codec::Alive) {
        let codec::Alive { name, addr, incarnation, meta } = alive;
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
        let Some(id) = self.members.id(&name) else {
            let member =
                Member { name, addr, incarnation, state: MemberState::Alive, meta, since: now };
            self.out.event(Event::Joined(member.clone()));
            let id = self.insert(member, String::new());
            self.enqueue_update(id);
            return;
        };
        // Most claims are old news: read before writing, so a snapshot
        // entry is copied only when it changes.
        let old = match self.members.get(id) {
            Some(e) if incarnation > e.member.incarnation => e.member.state,
            _ => return,
        };
        if old == MemberState::Dead && self.hold_revival(now, id, incarnation, addr, &meta) {
            return;
        }
        let failing_here = self.detector.keeps_mark(old);
        let Some(e) = self.members.get_mut(id) else {
            return;
        };
        e.member.incarnation = incarnation;
        e.member.addr = addr;
        e.member.meta = meta;
        if failing_here {
            // Our failing mark stands until it answers our pings; the
            // news itself spreads.
            self.enqueue_update(id);
            return;
        }
        e.accuser.clear();
        self.set_state(id, MemberState::Alive, now);
        self.enqueue_update(id);
        let Some(m) = self.snapshot(id) else {
            return;
        };
        match old {
            MemberState::Alive => {}
            MemberState::Suspect => self.out.event(Event::Alive(m)),
            MemberState::Dead | MemberState::Left => self.out.event(Event::Joined(m)),
        }
    }

    /// `from` suspects `name` at `incarnation`.
    pub(crate) fn apply_suspect(&mut self, now: Duration, accusation: codec::Accusation) {
        let codec::Accusation { name, incarnation, from } = accusation;
        let name = name.as_str();
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, MemberState::Suspect);
            }
            return;
        }
        let Some(id) = self.members.id(name) else {
            return;
        };
        let Some(e) = self.members.get(id) else {
            return;
        };
        let state = e.member.state;
        let fresher = incarnation > e.member.incarnation;
        if state == MemberState::Suspect && incarnation == e.member.incarnation {
            self.confirm(now, id, incarnation, from);
            return;
        }
        let applies = match state {
            MemberState::Alive => incarnation >= e.member.incarnation,
            MemberState::Suspect => fresher,
            MemberState::Dead | MemberState::Left => false,
        };
        if !applies {
            return;
        }
        let Some(e) = self.members.get_mut(id) else {
            return;
        };
        e.member.incarnation = incarnation;
        e.accuser = from;
        self.start_suspicion(now, id, state == MemberState::Alive);
    }

    /// `from` declares `name` dead (`state == Dead`) or `name` announces it
    /// left (`state == Left`), at `incarnation`.
    pub(crate) fn apply_dead(
        &mut self,
        now: Duration,
        accusation: codec::Accusation,
        state: MemberState,
    ) {
        let codec::Accusation { name, incarnation, from } = accusation;
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, state);
            }
            return;
        }
        if let Some(id) = self.members.id(&name) {
            self.declare(now, id, incarnation, from, state);
        }
    }

    /// Applies a death (`state == Dead`) or departure (`Left`) of another
    /// member at `incarnation`, unless we already hold it gone or know a
    /// later life.
    pub(crate) fn declare(
        &mut self,
        now: Duration,
        id: Id,
        incarnation: u64,
        from: String,
        state: MemberState,
    ) {
        match self.members.get(id) {
            Some(e) if e.member.state.is_live() && incarnation >= e.member.incarnation => {}
            _ => return,
        }
        let Some(e) = self.members.get_mut(id) else {
            return;
        };
        e.member.incarnation = incarnation;
        e.accuser = from;
        self.set_state(id, state, now);
        self.enqueue_update(id);
        if let Some(m) = self.snapshot(id) {
            self.out.event(match state {
                MemberState::Left => Event::Left(m),
                _ => Event::Failed(m),
            });
        }
    }

    /// Another member holds a claim about us at `incarnation` that is wrong:
    /// announce ourselves alive with a higher incarnation.
    pub(crate) fn refute(&mut self, now: Duration, incarnation: u64, accusation: MemberState) {
        let Some(e) = self.members.get_mut(self.me) else {
            return;
        };
        e.member.incarnation =
            (e.member.incarnation.max(incarnation) + 1).min(crate::codec::MAX_INCARNATION);
        e.member.since = now;
        let incarnation = e.member.incarnation;
        self.out.stats.refutations += 1;
        // Lifeguard: being accused hints that we are the slow one.
        self.adjust_health(1);
        self.enqueue_update(self.me);
        self.out.event(Event::Refuted { accusation, incarnation });
    }

    /// Removes members dead or departed for longer than `reap_timeout`.
    pub(crate) fn reap(&mut self, now: Duration) {
        let gone = self.count(MemberState::Dead) + self.count(MemberState::Left);
        if gone == 0 {
            return;
        }
        let old: Vec<(Id, MemberState)> = self
            .members
            .iter()
            .filter(|&(id, e)| {
                id != self.me
                    && !e.member.state.is_live()
                    && now.saturating_sub(e.member.since) >= self.config.reap_timeout
            })
            .map(|(id, e)| (id, e.member.state))
            .collect();
        for (id, state) in old {
            self.counts[state as usize] -= 1;
            self.logs.remove(&id);
            self.pushes.stop_origin(id);
            self.piggyback.remove(id);
            self.detector.clear_suspicion(id);
            self.members.reap(id);
            self.out.stats.reaped += 1;
        }
    }
}

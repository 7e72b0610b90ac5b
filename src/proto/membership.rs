//! How the member table changes: the rules that order competing claims
//! about a member.
//!
//! SWIM's rules (as in memberlist): a claim about incarnation `i` overrides
//! one about a lower incarnation; at the same incarnation `Suspect` overrides
//! `Alive`, and `Dead`/`Left` override both. Only the member itself raises
//! its incarnation, which is how it refutes an accusation.

use super::engine::{Engine, Suspicion};
use super::event::Event;
use super::member::{Member, MemberState};
use super::table::{Entry, Id, Table};
use super::timer::Timer;
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
        if live && id != self.me && !self.quorum_mode() {
            self.probe_order.add(id);
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
            self.suspicions.remove(&id);
        }
        self.counts[old as usize] -= 1;
        self.counts[state as usize] += 1;
        if !old.is_live() && state.is_live() && id != self.me && !self.quorum_mode() {
            // Probed within this round, at a random place among the members
            // not probed yet (memberlist does the same for newcomers).
            self.probe_order.add(id);
        }
    }

    /// Queues an update about member `id` for gossip; a newer update about
    /// the same member replaces the older one and starts its count afresh.
    pub(crate) fn enqueue_update(&mut self, id: Id) {
        self.piggyback.push(id);
    }

    fn snapshot(&self, id: Id) -> Option<Member> {
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
        let failing_here = old == MemberState::Suspect && self.quorum_mode();
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
        if self.quorum_mode() {
            // A failure report: counted, never refuted, never passed on.
            self.quorum_report(now, name, incarnation, &from);
            return;
        }
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

    /// Marks member `id` suspect (already at the right incarnation), arms
    /// its suspicion timer, gossips it and, if it was alive, reports it.
    pub(crate) fn start_suspicion(&mut self, now: Duration, id: Id, report: bool) {
        let Some(e) = self.members.get(id) else {
            return;
        };
        let (incarnation, accuser) = (e.member.incarnation, e.accuser.clone());
        self.set_state(id, MemberState::Suspect, now);
        let timeout = self.config.suspicion_timeout_after(self.live_members(), 0);
        let accusers = alloc::vec![accuser];
        self.suspicions.insert(id, Suspicion { start: now, incarnation, accusers });
        self.timers.arm(now + timeout, Timer::Suspicion { id, incarnation });
        self.enqueue_update(id);
        if report {
            if let Some(m) = self.snapshot(id) {
                self.out.event(Event::Suspected(m));
            }
        }
    }

    /// Another member, `from`, independently suspects `id` at the
    /// incarnation we suspect it at (Lifeguard): the suspicion shrinks
    /// toward its minimum, and we pass the confirmation on.
    pub(crate) fn confirm(&mut self, now: Duration, id: Id, incarnation: u64, from: String) {
        if !self.config.lifeguard {
            return;
        }
        let k = self.config.suspicion_mult.saturating_sub(2) as usize;
        let Some(s) = self.suspicions.get_mut(&id) else { return };
        // Past k confirmations the timeout is at its minimum: more change
        // nothing, and passing each on would flood the cluster
        // (memberlist stops counting there too).
        if s.incarnation != incarnation || s.accusers.len() > k || s.accusers.contains(&from) {
            return;
        }
        s.accusers.push(from.clone());
        let (start, confirmations) = (s.start, s.accusers.len() as u32 - 1);
        let timeout = self.config.suspicion_timeout_after(self.live_members(), confirmations);
        self.out.stats.confirmations += 1;
        // The earlier, longer timer stays armed and finds nothing to do.
        self.timers.arm((start + timeout).max(now), Timer::Suspicion { id, incarnation });
        if let Some(e) = self.members.get_mut(id) {
            e.accuser = from;
        }
        self.enqueue_update(id);
    }

    /// A suspicion timer of member `id` at `incarnation` fired: unless it
    /// was refuted meanwhile, or confirmations have not shortened it this
    /// far, the member is dead.
    pub(crate) fn suspicion_expired(&mut self, now: Duration, id: Id, incarnation: u64) {
        let Some(e) = self.members.get(id) else {
            return;
        };
        if e.member.state != MemberState::Suspect || e.member.incarnation != incarnation {
            return;
        }
        if let Some(s) = self.suspicions.get(&id).filter(|s| s.incarnation == incarnation) {
            let n = self.live_members();
            let c = s.accusers.len().saturating_sub(1) as u32;
            let due = s.start + self.config.suspicion_timeout_after(n, c);
            if now < due {
                // The cluster grew since this timer was armed, and so did
                // the timeout: wait for the new deadline.
                self.timers.arm(due, Timer::Suspicion { id, incarnation });
                return;
            }
            // Deaf: nothing at all reached us for a probe interval, so a
            // refutation may be waiting unread (a blocked receive loop, a
            // cut link). Confirmations do not shorten the wait then: it
            // runs to the lone accuser's full length, checked again each
            // interval. Only with others around who could have spoken.
            let longest = s.start + self.config.suspicion_timeout_after(n, 0);
            let quiet = now.saturating_sub(self.last_heard) > self.config.probe_interval;
            if self.config.lifeguard && n > 2 && quiet && now < longest {
                self.out.stats.declarations_deferred += 1;
                let next = (now + self.config.probe_interval).min(longest);
                self.timers.arm(next, Timer::Suspicion { id, incarnation });
                return;
            }
        }
        self.out.stats.failures_declared += 1;
        let me = self.name.clone();
        self.declare(now, id, incarnation, me, MemberState::Dead);
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
            self.suspicions.remove(&id);
            self.members.reap(id);
            self.out.stats.reaped += 1;
        }
    }
}

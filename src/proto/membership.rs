//! Membership claims as the engine handles them: each Alive, Suspect, Dead
//! or Left claim goes through the view's rules ([`super::view`]), and what
//! a rule changed goes on to the failure detector, the gossip queue and
//! the events.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::table::{Id, Ident, NameNo};
use super::view::Transition;
use crate::codec::{self, FailureReason};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

impl Engine {
    /// Carries out what a transition means beyond the view: the failure
    /// detector hears of it and its event is reported.
    pub(crate) fn apply(&mut self, t: Transition) {
        let Transition { id, from, to, event } = t;
        // The view changed, so may the summary hash: the check is
        // recomputed at the next gossip round (not while a join link
        // lives). Members learned in bulk are not gossiped, so nothing
        // else would drop it, and a stale check sent on made every peer
        // take its hash and start a sync for nothing.
        self.piggyback.set_check(None);
        if from != Some(to) {
            if from == Some(MemberState::Suspect) {
                self.detector.clear_suspicion(id);
            }
            if to.is_live() && !from.is_some_and(MemberState::is_live) && id != self.view.me {
                self.detector.watch(id);
            }
        }
        if let Some(event) = event {
            self.out.event(event);
        }
    }

    /// Queues an update about member `id` for gossip; a newer update about
    /// the same member replaces the older one and starts its count afresh.
    pub(crate) fn enqueue_update(&mut self, id: Id) {
        self.piggyback.push(id, None);
    }

    /// A member not known before, named, placed and described by `ident`,
    /// joins alive at `incarnation`, learned from an Alive claim.
    fn join_new(&mut self, now: Duration, ident: Arc<Ident>, incarnation: u64) {
        let t = self.view.join_alive(ident, incarnation, now);
        let id = t.id;
        self.apply(t);
        // Reported from the entry: no copy of the name per view.
        self.out.joined(self.view.entry(id));
        // While linked, only first-hand news is gossiped: the links carry
        // the rest in bulk (links.rs).
        if self.links.gossip_new_member(self.view.table().len()) {
            self.enqueue_update(id);
        }
        self.links.learned(id);
    }

    /// Someone claims `name` is alive at `incarnation`.
    pub(crate) fn apply_alive(&mut self, now: Duration, alive: codec::AliveRef<'_>) {
        self.apply_alive_numbered(now, alive, None);
    }

    /// [`Engine::apply_alive`], given the number that
    /// [`Names::numbers`](super::table::Names::numbers) found for the name
    /// a moment ago, if it found one (`None`: the name is looked up here).
    pub(crate) fn apply_alive_numbered(
        &mut self,
        now: Duration,
        alive: codec::AliveRef<'_>,
        num: Option<NameNo>,
    ) {
        let codec::AliveRef { name, addr, incarnation, meta } = alive;
        if name == self.name {
            // A claim about us from an earlier life (restart) or another
            // address: out-announce it.
            let me = self.local_member();
            if addr != me.addr && self.handshake.hold_own_claim(addr, incarnation) {
                // Our name held at another address, learnt while joining:
                // its holder is checked before we announce anything
                // (join.rs `NameCheck`).
                return;
            }
            if !self.leaving
                && (incarnation > me.incarnation
                    || (incarnation == me.incarnation && addr != me.addr))
            {
                if addr != me.addr {
                    // Names are identities: another process claims ours
                    // (or an earlier life of ours had another address).
                    // Re-assert our address above it.
                    self.out.stats.name_claims_refuted += 1;
                }
                self.refute(now, incarnation, MemberState::Alive);
            }
            return;
        }
        let found = match num {
            Some(num) => self.view.table().find_numbered(name, num),
            None => self.view.table().find(name),
        };
        let id = match found {
            Ok(id) => id,
            Err(num) => {
                let ident = self.view.table().names().interned(num, name, addr, meta);
                // The number found before was freed and given to another
                // name since: the member may be held under the name's own.
                let renumbered = Some(ident.num) != num;
                match renumbered.then(|| self.view.table().id_numbered(ident.num)).flatten() {
                    Some(id) => id,
                    None => {
                        self.join_new(now, ident, incarnation);
                        return;
                    }
                }
            }
        };
        // Most claims are old news: read before writing, so a snapshot
        // entry is copied only when it changes.
        if !self.view.overrides(id, MemberState::Alive, incarnation) {
            self.tell_stale_life(id, addr);
            return;
        }
        let (old, previous) = (self.view.entry(id).state(), self.view.entry(id).addr());
        if old == MemberState::Dead && self.hold_revival(now, id, incarnation, addr, meta) {
            return;
        }
        self.view.renew(id, incarnation, addr, meta);
        if self.detector.keeps_mark(old) {
            // Our failing mark stands until it answers our pings; the
            // news itself spreads.
            self.enqueue_update(id);
            return;
        }
        let mut t = self.view.mark_alive(id, now);
        let mut restarted = None;
        if previous != addr {
            // A later life at another address: a new process under that
            // name (a live holder would have refuted), whatever it was
            // held as. Say so, and where: after Joined if it comes back
            // from dead or gone (on_join still means "became live"),
            // instead of Alive or of nothing if it was held live.
            let member = self.view.snapshot(id);
            restarted = member.map(|member| Event::Restarted { member, previous });
            if !matches!(t.event, Some(Event::Joined(_))) {
                t.event = restarted.take();
            }
        }
        self.apply(t);
        if let Some(event) = restarted {
            self.out.event(event);
        }
        self.enqueue_update(id);
    }

    /// An Alive claim about member `id` at `addr` lost to what we hold. If
    /// we hold it suspect, dead or gone at another address, the claim is a
    /// new life at a new address (a restart on another port or host) that
    /// does not know of its old life's higher incarnation, because its
    /// seed did not either (memberlist#311): tell it, so it refutes above
    /// it at once instead of staying unknown until a reconnect finds it.
    /// Not for a member held alive: that one answers its probes, and keeps
    /// its name (join.rs `NameCheck`). One small datagram per claim
    /// received, only while the new life's claims are losing.
    fn tell_stale_life(&mut self, id: Id, addr: core::net::SocketAddr) {
        let e = self.view.entry(id);
        if self.leaving || e.state() == MemberState::Alive || e.addr() == addr {
            return;
        }
        if let Some(claim) = self.view.state_message(id) {
            self.out.send_alone(addr, claim);
        }
    }

    /// `from` suspects `name` at `incarnation` (SWIM).
    pub(crate) fn apply_suspect(&mut self, now: Duration, accusation: codec::Accusation) {
        let codec::Accusation { name, incarnation, from } = accusation;
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, MemberState::Suspect);
            }
            return;
        }
        let Some(id) = self.view.table().id(&name) else {
            return;
        };
        if self.view.confirms(id, incarnation) {
            self.confirm(now, id, incarnation, from);
        } else if self.view.overrides(id, MemberState::Suspect, incarnation) {
            self.start_suspicion(now, id, incarnation, from);
        }
    }

    /// `from` declares `name` dead (`state == Dead`, for `reason` if the
    /// claim gave one) or `name` announces it left (`state == Left`), at
    /// `incarnation`.
    pub(crate) fn apply_dead(
        &mut self,
        now: Duration,
        accusation: codec::Accusation,
        state: MemberState,
        reason: Option<FailureReason>,
    ) {
        let codec::Accusation { name, incarnation, from } = accusation;
        if name == self.name {
            if !self.leaving && incarnation >= self.local_member().incarnation {
                self.refute(now, incarnation, state);
            }
            return;
        }
        if let Some(id) = self.view.table().id(&name) {
            self.declare(now, id, incarnation, from, state, reason);
        }
    }

    /// Applies a death (`state == Dead`, decided for `reason` if known) or
    /// departure (`Left`) of another member at `incarnation`, unless we
    /// already hold it gone or know a later life. The reason goes into the
    /// `Failed` event and rides with the update while it is gossiped (as a
    /// [`codec::Verdict`]); it is not kept in the member's table entry.
    pub(crate) fn declare(
        &mut self,
        now: Duration,
        id: Id,
        incarnation: u64,
        from: String,
        state: MemberState,
        reason: Option<FailureReason>,
    ) {
        if let Some(mut t) = self.view.mark_gone(id, incarnation, from, state, now) {
            if let Some(Event::Failed { reason: r, .. }) = t.event.as_mut() {
                *r = reason;
            }
            self.apply(t);
            let reason = if state == MemberState::Dead { reason } else { None };
            self.piggyback.push(id, reason);
        }
    }

    /// Another member holds a claim about us at `incarnation` that is wrong:
    /// announce ourselves alive with a higher incarnation.
    pub(crate) fn refute(&mut self, now: Duration, incarnation: u64, accusation: MemberState) {
        let incarnation = self.view.announce(now, incarnation);
        self.out.stats.refutations += 1;
        // Lifeguard: being accused hints that we are the slow one.
        self.adjust_health(1);
        self.enqueue_update(self.view.me);
        self.out.event(super::event::Event::Refuted { accusation, incarnation });
    }

    /// Removes members dead or departed for longer than `reap_timeout`.
    pub(crate) fn reap(&mut self, now: Duration) {
        let gone = self.view.count(MemberState::Dead) + self.view.count(MemberState::Left);
        if gone == 0 {
            return;
        }
        let me = self.view.me;
        let old: Vec<Id> = self
            .view
            .table()
            .iter()
            .filter(|&(id, e)| {
                id != me
                    && !e.state().is_live()
                    && now.saturating_sub(e.since()) >= self.config.reap_timeout
            })
            .map(|(id, _)| id)
            .collect();
        for id in old {
            self.store.forget(id);
            self.pushes.stop_origin(id);
            self.piggyback.remove(id);
            // Nothing keyed by the id may outlive the member (item log,
            // pushes, updates, detector): ids are about to be reused.
            self.detector.forget(id);
            self.view.reap(id);
            self.out.stats.reaped += 1;
            // One fewer member in the summary hash.
            self.piggyback.set_check(None);
        }
    }
}

//! The membership view: every known member (the table), how many are in
//! each state, and the one set of rules that change a member's state, each
//! returning the [`Transition`] it made and the event that reports it.
//! Both failure detectors and every message handler go through it.
//!
//! SWIM's rules (as in memberlist): a claim about incarnation `i` overrides
//! one about a lower incarnation; at the same incarnation `Suspect` overrides
//! `Alive`, and `Dead`/`Left` override both. Only the member itself raises
//! its incarnation, which is how it refutes an accusation.

use super::event::Event;
use super::member::{Member, MemberState};
use super::table::{Entry, Id, Ident, Journal, Snapshot, Table, Was};
use crate::codec::{self, Message};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// The members as this node knows them.
#[derive(Debug)]
pub(crate) struct View {
    table: Table,
    /// Members by state, indexed like [`MemberState`].
    counts: [usize; 4],
    /// This node's id in the table.
    pub(crate) me: Id,
}

/// What a rule changed about one member: the engine tells the failure
/// detector and reports the event.
#[must_use]
#[derive(Debug)]
pub(crate) struct Transition {
    pub(crate) id: Id,
    /// Its state before (`None`: it was not known).
    pub(crate) from: Option<MemberState>,
    /// Its state now.
    pub(crate) to: MemberState,
    /// The event this change reports, if any.
    pub(crate) event: Option<Event>,
}

impl View {
    /// The view of member `name` at `addr`, starting out with the members
    /// of `base`. If `name` is in it, that entry is this member: its
    /// incarnation and metadata are kept, its address becomes `addr` and
    /// its state alive.
    pub(crate) fn new(base: Arc<Snapshot>, name: String, addr: SocketAddr, now: Duration) -> View {
        let table = Table::with_base(base);
        let counts = table.base_counts();
        let mut view = View { table, counts, me: 0 };
        match view.table.id(&name) {
            Some(id) => {
                view.me = id;
                let own = view.table.get(id).map(|e| (e.addr(), e.state()));
                if let Some((_, state)) = own.filter(|&(a, s)| a != addr || s != MemberState::Alive)
                {
                    view.counts[state as usize] -= 1;
                    view.counts[MemberState::Alive as usize] += 1;
                    view.set_ident(id, Some(addr), None);
                    if let Some(e) = view.table.get_mut(id) {
                        e.set_state(MemberState::Alive);
                    }
                }
            }
            None => {
                let me = Member { since: now, ..Member::new(name, addr) };
                view.me = view.table.len() as Id;
                view.counts[MemberState::Alive as usize] += 1;
                view.table.insert(&me);
            }
        }
        view
    }

    /// Every member known, this node included, by id.
    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    /// Merges the members learned since into the table's name order
    /// ([`Table::order_names`]).
    pub(crate) fn order_names(&mut self) {
        self.table.order_names();
    }

    /// The table's journal of changes (for the summary hash).
    pub(crate) fn journal(&mut self) -> &mut Journal<Was> {
        self.table.journal()
    }

    /// The entry of a member known to be in the table.
    pub(crate) fn entry(&self, id: Id) -> &Entry {
        self.table.get(id).expect("ids come from the table; a reaped id is cleared everywhere")
    }

    /// Members by state, indexed like [`MemberState`].
    pub(crate) fn counts(&self) -> [usize; 4] {
        self.counts
    }

    /// Number of members in `state`, this node included.
    pub(crate) fn count(&self, state: MemberState) -> usize {
        self.counts[state as usize]
    }

    /// Number of members alive or suspect, this node included.
    pub(crate) fn live_members(&self) -> usize {
        self.count(MemberState::Alive) + self.count(MemberState::Suspect)
    }

    /// A copy of member `id` as held now.
    pub(crate) fn snapshot(&self, id: Id) -> Option<Member> {
        self.table.get(id).map(Entry::to_member)
    }

    /// The id of `name` if it is a live member other than us, reachable at
    /// `addr`. Requests that make us send more than they weigh (PingReq,
    /// Digest, Summary) are answered only then, so a forged one cannot aim
    /// our traffic at someone else.
    pub(crate) fn live_member_at(&self, name: &str, addr: SocketAddr) -> Option<Id> {
        self.table.id(name).filter(|&id| {
            id != self.me
                && self.table.get(id).is_some_and(|e| e.state().is_live() && e.addr() == addr)
        })
    }

    /// The message that states what we hold about member `id`.
    pub(crate) fn state_message(&self, id: Id) -> Option<Message> {
        self.claim(id).map(|c| c.to_message())
    }

    /// What we hold about member `id`, borrowed from its entry: encodes as
    /// [`View::state_message`] does, without copying the name, accuser or
    /// metadata (a mass join sends about n² claims).
    pub(crate) fn claim(&self, id: Id) -> Option<codec::Claim<'_>> {
        if self.table.is_reaped(id) {
            return None; // gone: no claim about it goes out any more
        }
        let e = self.table.get(id)?;
        let (name, incarnation) = (e.name(), e.incarnation);
        Some(match e.state() {
            MemberState::Alive => codec::Claim::Alive(codec::AliveRef {
                name,
                addr: e.addr(),
                incarnation,
                meta: e.meta(),
            }),
            MemberState::Suspect => codec::Claim::Suspect(codec::AccusationRef {
                name,
                incarnation,
                from: self.table.accuser(id),
            }),
            MemberState::Dead => codec::Claim::Dead(codec::AccusationRef {
                name,
                incarnation,
                from: self.table.accuser(id),
            }),
            MemberState::Left => codec::Claim::Left(codec::LeftRef { name, incarnation }),
        })
    }

    /// The precedence rule: whether a claim that member `id` is in `state`
    /// at `incarnation` overrides what we hold. A `Suspect` claim at the
    /// incarnation of a suspicion we hold does not override it: it confirms
    /// it (see [`View::confirms`]).
    pub(crate) fn overrides(&self, id: Id, state: MemberState, incarnation: u64) -> bool {
        let Some(e) = self.table.get(id) else { return false };
        let (held, current) = (e.state(), e.incarnation);
        match state {
            MemberState::Alive => incarnation > current,
            MemberState::Suspect => match held {
                MemberState::Alive => incarnation >= current,
                MemberState::Suspect => incarnation > current,
                MemberState::Dead | MemberState::Left => false,
            },
            MemberState::Dead => held.is_live() && incarnation >= current,
            // A leave also explains a death we declared at that life (the
            // port closed after a Left notice we had not heard yet, see
            // crash evidence), as in the digests' rank order, where Left
            // is above Dead: a Dead view meeting a Left one converges to
            // Left instead of the two syncing for nothing until reaped.
            MemberState::Left => {
                (held.is_live() || held == MemberState::Dead) && incarnation >= current
            }
        }
    }

    /// Whether a `Suspect` claim at `incarnation` confirms the suspicion of
    /// member `id` we hold (same incarnation).
    pub(crate) fn confirms(&self, id: Id, incarnation: u64) -> bool {
        self.table
            .get(id)
            .is_some_and(|e| e.state() == MemberState::Suspect && e.incarnation == incarnation)
    }

    /// A member not known before joins the view, alive at `incarnation`,
    /// from an Alive claim. No [`Member`] is built: the caller reports the
    /// join from the entry (`Outbox::joined`; a mass join reports n² of
    /// them), so the transition carries no event.
    pub(crate) fn join_alive(
        &mut self,
        ident: Arc<Ident>,
        incarnation: u64,
        now: Duration,
    ) -> Transition {
        self.counts[MemberState::Alive as usize] += 1;
        let entry = Entry::alive(ident, incarnation, now);
        let id = self.table.insert_entry(entry);
        Transition { id, from: None, to: MemberState::Alive, event: None }
    }

    /// Member `id` announced a later life: its incarnation, address and
    /// metadata change, its state does not (yet).
    pub(crate) fn renew(&mut self, id: Id, incarnation: u64, addr: SocketAddr, meta: &[u8]) {
        self.set_ident(id, Some(addr), Some(meta));
        if let Some(e) = self.table.get_mut(id) {
            e.incarnation = incarnation;
        }
    }

    /// Points entry `id` at the interned ident with `addr` and `meta`
    /// changed (`None`: kept), unless it already is.
    fn set_ident(&mut self, id: Id, addr: Option<SocketAddr>, meta: Option<&[u8]>) {
        let Some(e) = self.table.get(id) else { return };
        let (addr, meta) = (addr.unwrap_or(e.addr()), meta.unwrap_or(e.meta()));
        if addr == e.addr() && meta == e.meta() {
            return;
        }
        let ident = self.table.names().ident(e.name(), addr, meta);
        if let Some(e) = self.table.get_mut(id) {
            e.ident = ident;
        }
    }

    /// Member `id` is alive, its accusation dropped. Reports `Alive` when
    /// it was suspect, `Joined` when it was dead or gone.
    pub(crate) fn mark_alive(&mut self, id: Id, now: Duration) -> Transition {
        self.table.set_accuser(id, None);
        let from = self.set_state(id, MemberState::Alive, now);
        let event = match from {
            Some(MemberState::Suspect) => self.snapshot(id).map(Event::Alive),
            Some(MemberState::Dead | MemberState::Left) => self.snapshot(id).map(Event::Joined),
            Some(MemberState::Alive) | None => None,
        };
        Transition { id, from, to: MemberState::Alive, event }
    }

    /// Member `id` is suspect at `incarnation`, by `accuser`'s word.
    /// Reports `Suspected` when it was alive.
    pub(crate) fn mark_suspect(
        &mut self,
        id: Id,
        incarnation: u64,
        accuser: String,
        now: Duration,
    ) -> Transition {
        let accuser = self.table.names().accuser(&accuser);
        self.table.set_accuser(id, Some(accuser));
        if let Some(e) = self.table.get_mut(id) {
            e.incarnation = incarnation;
        }
        let from = self.set_state(id, MemberState::Suspect, now);
        let event = match from {
            Some(MemberState::Alive) => self.snapshot(id).map(Event::Suspected),
            _ => None,
        };
        Transition { id, from, to: MemberState::Suspect, event }
    }

    /// Another accuser confirms the suspicion of member `id`: the claim we
    /// gossip names it.
    pub(crate) fn confirm(&mut self, id: Id, accuser: String) {
        let accuser = self.table.names().accuser(&accuser);
        self.table.set_accuser(id, Some(accuser));
    }

    /// Member `id` is dead (`state == Dead`, by `accuser`'s word) or left
    /// (`Left`) at `incarnation`, unless we already hold it gone or know a
    /// later life. Reports `Failed` or `Left`.
    pub(crate) fn mark_gone(
        &mut self,
        id: Id,
        incarnation: u64,
        accuser: String,
        state: MemberState,
        now: Duration,
    ) -> Option<Transition> {
        if !self.overrides(id, state, incarnation) {
            return None;
        }
        let accuser = self.table.names().accuser(&accuser);
        self.table.set_accuser(id, Some(accuser));
        if let Some(e) = self.table.get_mut(id) {
            e.incarnation = incarnation;
        }
        let from = self.set_state(id, state, now);
        let event = self.snapshot(id).map(|member| match state {
            MemberState::Left => Event::Left(member),
            // The engine fills in the reason (membership.rs `declare`).
            _ => Event::Failed { member, reason: None },
        });
        Some(Transition { id, from, to: state, event })
    }

    /// This member leaves: its own entry is `Left` (no event: the engine
    /// reports the leave when it is done).
    pub(crate) fn depart(&mut self, now: Duration) -> Transition {
        let id = self.me;
        let from = self.set_state(id, MemberState::Left, now);
        Transition { id, from, to: MemberState::Left, event: None }
    }

    /// This member comes back after [`View::depart`]: its own entry is
    /// alive again at a higher incarnation, so its `Alive` claim overrides
    /// its `Left` notice wherever that got (others report a join, see
    /// [`View::mark_alive`]). No event: others report it.
    pub(crate) fn come_back(&mut self, now: Duration) -> Transition {
        let id = self.me;
        let from = self.set_state(id, MemberState::Alive, now);
        self.announce(now, 0);
        Transition { id, from, to: MemberState::Alive, event: None }
    }

    /// This member announces itself anew, above `past` and its own
    /// incarnation (a refutation, or new metadata); returns the new
    /// incarnation.
    pub(crate) fn announce(&mut self, now: Duration, past: u64) -> u64 {
        let Some(e) = self.table.get_mut(self.me) else { return 0 };
        e.incarnation = (e.incarnation.max(past) + 1).min(codec::MAX_INCARNATION);
        e.set_since(now);
        e.incarnation
    }

    /// This member's metadata (announce it after).
    pub(crate) fn set_meta(&mut self, meta: Vec<u8>) {
        self.set_ident(self.me, None, Some(&meta));
    }

    /// Forgets member `id` for good (reaped after `reap_timeout` gone).
    pub(crate) fn reap(&mut self, id: Id) {
        if self.table.is_reaped(id) {
            return;
        }
        if let Some(state) = self.table.get(id).map(|e| e.state()) {
            self.counts[state as usize] -= 1;
        }
        self.table.reap(id);
    }

    /// Sets a known member's state, keeping the counts right; returns the
    /// state it had (the same when nothing changed).
    fn set_state(&mut self, id: Id, state: MemberState, now: Duration) -> Option<MemberState> {
        let e = self.table.get(id)?;
        let old = e.state();
        if old == state {
            return Some(old);
        }
        let e = self.table.get_mut(id)?;
        e.set_state(state);
        e.set_since(now);
        self.counts[old as usize] -= 1;
        self.counts[state as usize] += 1;
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Snapshot;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, i], 7946))
    }

    /// n0 (this member) and n1, both alive at incarnation 0; n1 is id 1.
    fn view() -> View {
        let base = Snapshot::new([Member::new("n0", addr(0)), Member::new("n1", addr(1))]);
        View::new(base, String::from("n0"), addr(0), Duration::ZERO)
    }

    fn held(v: &View, id: Id) -> (MemberState, u64) {
        let m = v.entry(id);
        (m.state(), m.incarnation)
    }

    /// SWIM's precedence, the one table every detector and handler uses.
    #[test]
    fn claims_override_by_incarnation_then_state() {
        let mut v = view();
        let (alive, suspect, dead) = (MemberState::Alive, MemberState::Suspect, MemberState::Dead);
        // Held: alive at 2.
        v.renew(1, 2, addr(1), &[]);
        assert!(!v.overrides(1, alive, 2) && v.overrides(1, alive, 3));
        assert!(!v.overrides(1, suspect, 1) && v.overrides(1, suspect, 2));
        assert!(!v.overrides(1, dead, 1) && v.overrides(1, dead, 2));
        // Held: suspect at 2. The same suspicion confirms, it does not override.
        let _ = v.mark_suspect(1, 2, String::from("n0"), Duration::ZERO);
        assert!(v.confirms(1, 2) && !v.overrides(1, suspect, 2) && v.overrides(1, suspect, 3));
        assert!(v.overrides(1, alive, 3) && !v.overrides(1, alive, 2));
        assert!(v.overrides(1, MemberState::Left, 2));
        // Held: dead at 2. Only a later life brings it back.
        assert!(v.mark_gone(1, 2, String::from("n0"), dead, Duration::ZERO).is_some());
        assert!(!v.overrides(1, suspect, 9) && !v.overrides(1, dead, 9));
        assert!(v.mark_gone(1, 3, String::from("n0"), dead, Duration::ZERO).is_none());
        assert!(v.overrides(1, alive, 3));
        // ... or its leave at that life or later, which explains the death.
        assert!(!v.overrides(1, MemberState::Left, 1) && v.overrides(1, MemberState::Left, 2));
        let t = v.mark_gone(1, 2, String::from("n1"), MemberState::Left, Duration::ZERO);
        assert!(matches!(t.and_then(|t| t.event), Some(Event::Left(_))), "reported as a leave");
        // Held: left. Nothing but a later life overrides it.
        assert!(!v.overrides(1, dead, 9) && !v.overrides(1, MemberState::Left, 9));
        assert!(v.overrides(1, alive, 3));
    }

    /// Each rule reports what it changed, with the event that says so,
    /// and keeps the counts right.
    #[test]
    fn transitions_carry_their_events_and_keep_counts() {
        let mut v = view();
        let t = v.mark_suspect(1, 0, String::from("n0"), Duration::from_secs(1));
        assert_eq!((t.from, t.to), (Some(MemberState::Alive), MemberState::Suspect));
        assert!(matches!(t.event, Some(Event::Suspected(ref m)) if m.name == "n1"));
        assert_eq!((v.count(MemberState::Suspect), v.live_members()), (1, 2));
        let t = v.mark_alive(1, Duration::from_secs(2));
        assert!(matches!(t.event, Some(Event::Alive(_))));
        assert_eq!(v.table.accuser(1), "", "the accusation is dropped");
        let t = v.mark_gone(1, 0, String::from("n0"), MemberState::Left, Duration::from_secs(3));
        assert!(matches!(t.and_then(|t| t.event), Some(Event::Left(_))));
        assert_eq!((v.live_members(), v.count(MemberState::Left)), (1, 1));
        v.renew(1, 1, addr(1), &[]);
        let t = v.mark_alive(1, Duration::from_secs(4));
        assert!(matches!(t.event, Some(Event::Joined(_))), "back from the gone is a join");
        assert_eq!(held(&v, 1), (MemberState::Alive, 1));
        let ident = v.table.names().ident("n2", addr(2), &[]);
        let t = v.join_alive(ident, 0, Duration::from_secs(5));
        assert_eq!((t.id, t.from, v.live_members()), (2, None, 3));
        assert_eq!(v.announce(Duration::from_secs(5), 7), 8, "above the accusation");
        v.reap(2);
        assert_eq!(v.live_members(), 2);
    }
}

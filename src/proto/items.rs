//! The replicated key-value state and user rumors: the [`Store`] of every
//! member's item log and this member's life, the commands that add items
//! to this member's log, the reads of any member's, and the events a change
//! of a log reports.

use super::engine::Engine;
use super::event::Event;
use super::item_log::{Change, ItemLog};
use super::table::{FixedHashMap, Id, Journal};
use super::timer::Timer;
use crate::codec::{self, Item, Message, Value};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

/// Why [`Engine::broadcast`], [`Engine::set`] or [`Engine::delete`]
/// refused an item. The engine's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// The item does not fit in one datagram.
    TooLarge {
        /// Bytes of payload or value given.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// The key is empty or longer than [`codec::MAX_KEY_LEN`].
    BadKey {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::TooLarge { len, max } => write!(
                f,
                "{len} bytes do not fit: at most {max} with this name, key and max_stream_size \
                 (max_packet_size when streams are off)"
            ),
            ItemError::BadKey { len } => {
                write!(f, "key must be 1 to {} bytes long, got {len} bytes", codec::MAX_KEY_LEN)
            }
        }
    }
}

impl std::error::Error for ItemError {}

/// Every member's item log as known here, and which life of this member
/// runs.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Item logs by member.
    logs: FixedHashMap<Id, ItemLog>,
    /// This life of the member (see [`Engine::set_generation`]).
    pub(crate) generation: u64,
    /// Each changed log's generation and watermark before the change (see
    /// [`Journal`]): for the summary hash, kept up to date by
    /// anti_entropy.rs.
    journal: Journal<(u64, u64)>,
}

impl Store {
    /// Whether no member's log is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    /// Member `id`'s log, if we hold one.
    pub(crate) fn log(&self, id: Id) -> Option<&ItemLog> {
        self.logs.get(&id)
    }

    /// Member `id`'s log, to change it.
    pub(crate) fn log_mut(&mut self, id: Id) -> Option<&mut ItemLog> {
        self.note(id);
        self.logs.get_mut(&id)
    }

    /// Member `id`'s log, started empty for its life `generation` if we
    /// held none.
    fn log_or_new(&mut self, id: Id, generation: u64) -> &mut ItemLog {
        self.note(id);
        self.logs.entry(id).or_insert_with(|| ItemLog { generation, ..ItemLog::default() })
    }

    /// The members whose logs have a hole (see [`ItemLog::has_hole`]):
    /// a walk of every log, for the sync after pushes drain (at most one
    /// per probe interval).
    pub(crate) fn holes(&self) -> impl Iterator<Item = Id> + '_ {
        self.logs.iter().filter(|(_, log)| log.has_hole()).map(|(id, _)| *id)
    }

    /// Forgets member `id`'s log (the member was reaped).
    pub(crate) fn forget(&mut self, id: Id) {
        self.note(id);
        self.logs.remove(&id);
    }

    /// Runs this member, `me`, as life `generation` from now on.
    pub(crate) fn set_generation(&mut self, me: Id, generation: u64) {
        self.note(me);
        self.generation = generation;
        if let Some(log) = self.logs.get_mut(&me) {
            log.generation = generation;
        }
    }

    /// The generation and watermark of member `id`'s log, (0, 0) if we
    /// hold none: its part of the summary hash.
    pub(crate) fn marks(&self, id: Id) -> (u64, u64) {
        if self.logs.is_empty() {
            return (0, 0); // membership only: no lookup per member
        }
        self.logs.get(&id).map_or((0, 0), |l| (l.generation, l.watermark))
    }

    /// Notes in the journal that `id`'s log may be about to change.
    fn note(&mut self, id: Id) {
        if self.journal.wants(id) {
            let was = self.marks(id);
            self.journal.note(id, || was);
        }
    }

    /// The journal of changes to logs, for the summary hash.
    pub(crate) fn journal(&mut self) -> &mut Journal<(u64, u64)> {
        &mut self.journal
    }

    /// Collects, in every log, what is older than `horizon` (generations
    /// and watermarks stay as they are: the journal need not hear of it).
    fn collect(&mut self, horizon: Duration) {
        for log in self.logs.values_mut() {
            log.collect(horizon);
        }
    }
}

impl Engine {
    /// Broadcasts `payload` to every member (rumor mongering, repaired by
    /// anti-entropy); this member gets it too, as an [`Event::Rumor`].
    /// Returns its sequence number, unique for this member.
    pub fn broadcast(&mut self, now: Duration, payload: Vec<u8>) -> Result<u64, ItemError> {
        let max = self.max_item_len(None);
        if payload.len() > max {
            return Err(ItemError::TooLarge { len: payload.len(), max });
        }
        Ok(self.issue(now, Item::Rumor { payload }, true))
    }

    /// Sets `key` of this member's replicated state to `value`.
    pub fn set(&mut self, now: Duration, key: &str, value: Value) -> Result<u64, ItemError> {
        check_key(key)?;
        let max = self.max_item_len(Some(key));
        if value.len() > max {
            return Err(ItemError::TooLarge { len: value.len(), max });
        }
        Ok(self.issue(now, Item::Set { key: String::from(key), value }, true))
    }

    /// Deletes `key` of this member's replicated state (a tombstone).
    pub fn delete(&mut self, now: Duration, key: &str) -> Result<u64, ItemError> {
        check_key(key)?;
        Ok(self.issue(now, Item::Delete { key: String::from(key) }, true))
    }

    /// The value of `key` in `member`'s replicated state, as known here.
    pub fn get(&self, member: &str, key: &str) -> Option<&Value> {
        self.store.log(self.view.table().id(member)?)?.get(key)
    }

    /// `member`'s replicated state as known here, in key order.
    pub fn key_values(&self, member: &str) -> Vec<(&str, &Value)> {
        let log = self.view.table().id(member).and_then(|id| self.store.log(id));
        log.map(|s| s.entries().collect()).unwrap_or_default()
    }

    /// The highest version of `member`'s log known here with nothing
    /// missing below it (for tests and metrics).
    pub fn watermark(&self, member: &str) -> u64 {
        let log = self.view.table().id(member).and_then(|id| self.store.log(id));
        log.map_or(0, |s| s.watermark)
    }

    /// Items this node is still pushing (for tests and metrics).
    pub fn active_items(&self) -> usize {
        self.pushes.len()
    }

    /// The largest payload (with `key`: value) one item may carry:
    /// `max_stream_size` exactly (its frame has room for the rest), or
    /// what fits in a datagram when streams are disabled.
    pub fn max_item_len(&self, key: Option<&str>) -> usize {
        match self.config.max_stream_size {
            0 => self.item_len_within(key, self.out.packet_budget()),
            n => n.min(self.item_len_within(key, self.out.stream_budget())),
        }
    }

    /// The largest payload one item may carry in `budget` bytes, next to
    /// this member's name, as an Update or in a Delta.
    fn item_len_within(&self, key: Option<&str>, budget: usize) -> usize {
        let item = match key {
            Some(k) => Item::Set { key: String::from(k), value: Value::Bytes(Vec::new()) },
            None => Item::Rumor { payload: Vec::new() },
        };
        let big = codec::MAX_VERSION;
        let update = Message::Update(codec::Update {
            origin: self.name.clone(),
            generation: u64::MAX,
            version: big,
            item: item.clone(),
            feedback: true,
        });
        let delta = Message::Delta(codec::Delta {
            member: self.name.clone(),
            generation: u64::MAX,
            from: big,
            through: big,
            collected: big,
            items: alloc::vec![(big, item)],
        });
        let overhead = codec::encoded_len(&update).max(codec::encoded_len(&delta));
        // The empty payload's length took one byte; a large one up to five.
        budget.saturating_sub(codec::HEADER_LEN + overhead + 4)
    }

    /// Adds an item to this member's own log, reports it here and starts
    /// spreading it; returns its version.
    fn issue(&mut self, now: Duration, item: Item, report: bool) -> u64 {
        let (me, generation) = (self.view.me, self.store.generation);
        let log = self.store.log_or_new(me, generation);
        // 2^63 items: never reached.
        let version = (log.watermark + 1).min(codec::MAX_VERSION);
        let mut changes = Vec::new();
        log.apply(version, item, now, &mut changes);
        if report {
            self.report(me, generation, changes);
        }
        if self.pushes.start(me, version) {
            self.out.stats.pushes_evicted += 1;
        }
        self.push_now(now, me, version);
        version
    }

    /// The log of member `id` for its life `generation`: a later life
    /// replaces what we held (its keys reported deleted); an earlier one
    /// gets `None`.
    pub(crate) fn log_for(&mut self, id: Id, generation: u64) -> Option<&ItemLog> {
        let held = self.store.log(id).map(|s| s.generation);
        match held {
            Some(g) if g > generation => return None,
            Some(g) if g < generation => {
                let mut changes = Vec::new();
                if let Some(s) = self.store.log_mut(id) {
                    s.restart(generation, &mut changes);
                }
                self.pushes.stop_origin(id);
                self.out.stats.state_restarts += 1;
                self.report(id, generation, changes);
            }
            Some(_) => {}
            None => {
                self.store.log_or_new(id, generation);
            }
        }
        // Read only: the summary hash's journal hears of a log only when
        // it is about to change.
        self.store.log(id)
    }

    /// Turns log changes of member `id` (life `generation`) into events.
    pub(crate) fn report(&mut self, id: Id, generation: u64, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let name: String = self.entry(id).name().into();
        for change in changes {
            self.out.event(match change {
                Change::Key { key, value, version } => {
                    Event::Updated { member: name.clone(), generation, key, value, version }
                }
                Change::Rumor { version, payload } => {
                    Event::Rumor { origin: name.clone(), generation, version, payload }
                }
            });
        }
    }

    /// Collects tombstones and delivered rumors older than
    /// `state_gc_grace`; runs every quarter of it.
    pub(crate) fn collect_tick(&mut self, now: Duration) {
        self.timers.arm(now + self.config.state_gc_grace / 4, Timer::Collect);
        if let Some(horizon) = now.checked_sub(self.config.state_gc_grace) {
            self.store.collect(horizon);
        }
        self.reap(now);
    }
}

fn check_key(key: &str) -> Result<(), ItemError> {
    if key.is_empty() || key.len() > codec::MAX_KEY_LEN {
        return Err(ItemError::BadKey { len: key.len() });
    }
    Ok(())
}

//! [`EventHub`]: one queue of "this node has events" for many nodes, so
//! that a few consumer threads serve any number of nodes and an idle node
//! costs no thread and no wake-up at all.
//!
//! A node attached to a hub ([`super::Node::attach_hub`]) is put on the
//! hub's ready queue when events arrive in its queue and it is not there
//! already (nor being served). A consumer takes a node with
//! [`EventHub::next`], takes its events with [`super::Node::take_events`],
//! runs them, and hands the node back with [`super::Node::release`], which
//! puts it on the ready queue again if more events came meanwhile. So each
//! node is served by one consumer at a time, its events in order, while
//! different nodes may be served by different consumers at once.
//!
//! A consumer stuck in one node's callback would hold up every node behind
//! it on the queue. [`EventHub::watch`] lets a supervisor see that ("a node
//! has waited this long and no consumer is free") and start another
//! consumer. Nothing here runs on a timer: waits are condvar waits that only
//! events, consumers and [`EventHub::shutdown`] end.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// Nodes with events, by key, and since when, oldest first.
    ready: VecDeque<(u64, Instant)>,
    /// Consumers blocked in [`EventHub::next`].
    waiting: usize,
    /// When [`EventHub::watch`] last reported a stall: it reports at most
    /// one per `threshold`, giving the consumer it starts time to start.
    last_stall: Option<Instant>,
    /// [`EventHub::poke`] was called: the supervisor returns at once.
    poked: bool,
    shut: bool,
}

/// The ready queue of many nodes' event queues (see the module docs).
#[derive(Default)]
pub struct EventHub {
    state: Mutex<State>,
    /// Consumers wait on this one...
    work: Condvar,
    /// ...and the supervisor on this one, so a push never wakes the wrong one.
    watch: Condvar,
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> EventHub {
        EventHub::default()
    }

    /// Queues node `key` (called by the node, at most once until it is
    /// released: see [`super::Node::release`]).
    pub(super) fn push(&self, key: u64) {
        let mut s = self.state.lock();
        s.ready.push_back((key, Instant::now()));
        if s.waiting > 0 {
            self.work.notify_one();
        } else {
            self.watch.notify_one();
        }
    }

    /// The next node with events: waits until there is one, `timeout`
    /// passes (`None` waits for ever) or the hub is shut down (then `None`).
    pub fn next(&self, timeout: Option<Duration>) -> Option<u64> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.state.lock();
        loop {
            if s.shut {
                return None;
            }
            if let Some((key, _)) = s.ready.pop_front() {
                if s.waiting == 0 && !s.ready.is_empty() {
                    // Nobody free for the rest: the supervisor may want to know.
                    self.watch.notify_one();
                }
                return Some(key);
            }
            s.waiting += 1;
            let timed_out = match deadline {
                Some(d) => self.work.wait_until(&mut s, d).timed_out(),
                None => {
                    self.work.wait(&mut s);
                    false
                }
            };
            s.waiting -= 1;
            if timed_out && s.ready.is_empty() {
                return None;
            }
        }
    }

    /// For the supervisor: waits until some node has waited `threshold` on
    /// the ready queue while no consumer was free (returns `true`, at most
    /// once per `threshold`), or until `timeout`, a [`EventHub::poke`] or
    /// shutdown (returns `false`). Sleeps without waking while the queue is
    /// empty or a consumer is free.
    pub fn watch(&self, threshold: Duration, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock();
        loop {
            if s.shut || std::mem::take(&mut s.poked) {
                return false;
            }
            let now = Instant::now();
            let stall = match (s.waiting, s.ready.front()) {
                (0, Some(&(_, since))) => {
                    let due = (since + threshold).max(s.last_stall.map_or(now, |t| t + threshold));
                    if now >= due {
                        s.last_stall = Some(now);
                        return true;
                    }
                    Some(due)
                }
                _ => None,
            };
            if now >= deadline {
                return false;
            }
            let until = stall.map_or(deadline, |due| due.min(deadline));
            self.watch.wait_until(&mut s, until);
        }
    }

    /// Makes a [`EventHub::watch`] under way return `false` at once (the
    /// supervisor has something else to look at).
    pub fn poke(&self) {
        self.state.lock().poked = true;
        self.watch.notify_all();
    }

    /// Ends every wait, now and later: [`EventHub::next`] and
    /// [`EventHub::watch`] return at once.
    pub fn shutdown(&self) {
        self.state.lock().shut = true;
        self.work.notify_all();
        self.watch.notify_all();
    }

    /// Nodes on the ready queue.
    pub fn ready(&self) -> usize {
        self.state.lock().ready.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_pushed_node_is_taken_once_in_order() {
        let hub = EventHub::new();
        hub.push(1);
        hub.push(2);
        assert_eq!(hub.next(Some(Duration::ZERO)), Some(1));
        assert_eq!(hub.next(Some(Duration::ZERO)), Some(2));
        assert_eq!(hub.next(Some(Duration::from_millis(10))), None);
    }

    #[test]
    fn a_waiting_consumer_is_woken_by_a_push_and_shutdown_ends_waits() {
        let hub = Arc::new(EventHub::new());
        let h = hub.clone();
        let consumer = std::thread::spawn(move || h.next(None));
        hub.push(7);
        assert_eq!(consumer.join().unwrap(), Some(7));
        let h = hub.clone();
        let consumer = std::thread::spawn(move || h.next(None));
        hub.shutdown();
        assert_eq!(consumer.join().unwrap(), None);
        assert!(!hub.watch(Duration::ZERO, Duration::from_secs(60)));
    }

    #[test]
    fn watch_reports_a_node_waiting_with_no_consumer_free() {
        let hub = EventHub::new();
        // Nothing queued: the watch times out.
        assert!(!hub.watch(Duration::ZERO, Duration::from_millis(1)));
        hub.push(3);
        assert!(hub.watch(Duration::ZERO, Duration::from_secs(60)));
        hub.poke();
        assert!(!hub.watch(Duration::from_secs(60), Duration::from_secs(60)));
    }
}

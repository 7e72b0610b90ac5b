//! Counters kept by the engine.

use crate::codec::MessageKind;
use alloc::string::String;
use alloc::vec::Vec;

const KINDS: usize = MessageKind::ALL.len();

/// Upper bounds of the probe round-trip histogram's buckets, in
/// microseconds (0.5 ms to 1 s; slower answers count only in the total).
pub const RTT_BUCKETS_US: [u64; 11] =
    [500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];

/// What the engine holds right now (unlike [`Stats`], these go up and
/// down): what a driver reports next to the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Members by state, indexed like [`MemberState`](super::MemberState),
    /// this node included.
    pub members: [usize; 4],
    /// Membership updates waiting to be piggybacked on gossip.
    pub update_queue: usize,
    /// Rumors and state items being pushed (rumor mongering).
    pub push_queue: usize,
    /// Lifeguard's local health multiplier (1 when healthy).
    pub health_multiplier: u32,
}

/// Monotonic counters of what the engine did. Cheap to copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the driver.
    pub packets_sent: u64,
    /// Bytes handed to the driver.
    pub bytes_sent: u64,
    /// Datagrams received and accepted.
    pub packets_received: u64,
    /// Bytes received (accepted or not).
    pub bytes_received: u64,
    /// Datagrams dropped: body did not decode.
    pub dropped_malformed: u64,
    /// Datagrams dropped: shorter than the header.
    pub dropped_truncated: u64,
    /// Datagrams dropped: larger than accepted.
    pub dropped_oversized: u64,
    /// Datagrams dropped: not a rumor datagram (bad magic).
    pub dropped_bad_magic: u64,
    /// Datagrams dropped: unknown protocol version or flags.
    pub dropped_unknown_version: u64,
    /// Datagrams dropped: well-formed but outside protocol limits (name
    /// length, incarnation).
    pub dropped_out_of_limits: u64,
    /// PingReqs ignored: the target is not a live member at that address
    /// (relaying them would let anyone aim our traffic at any address).
    pub ping_reqs_refused: u64,
    /// Meets sent to dead members to heal a partition.
    pub reconnects: u64,
    /// Meets answered with a [`Busy`](crate::codec::Busy) refusal: this
    /// seed had served its share of handshakes for the moment.
    pub meets_refused: u64,
    /// Meets dropped unanswered: refusals were spent too (a flood of Meets).
    pub meets_dropped: u64,
    /// Views handed to joiners in part only (the rest comes by gossip and
    /// the joiner's sync), bounding a handshake's answer.
    pub views_truncated: u64,
    /// Busy refusals this node's joins got: it backed off and tried again.
    pub joins_refused: u64,
    /// Rejoins through the seeds asked for after no member was alive for
    /// `rejoin_interval` ([`Event::RejoinDue`](super::Event::RejoinDue)).
    pub rejoins: u64,
    /// Messages sent, by kind ([`MessageKind::ALL`] order).
    pub messages_sent: [u64; KINDS],
    /// Messages received, by kind.
    pub messages_received: [u64; KINDS],
    /// Encoded bytes of the messages sent, by kind (headers and sealing
    /// not included).
    pub message_bytes_sent: [u64; KINDS],
    /// Encoded bytes of the messages received, by kind.
    pub message_bytes_received: [u64; KINDS],
    /// Direct probes started.
    pub probes: u64,
    /// Probes that got no Ack, direct or indirect.
    pub probes_failed: u64,
    /// PingReq messages sent for indirect probes.
    pub indirect_probes: u64,
    /// Suspicions this node raised itself.
    pub suspicions: u64,
    /// Times this node refuted an accusation about itself.
    pub refutations: u64,
    /// Members this node declared dead itself.
    pub failures_declared: u64,
    /// Of those, decided by evidence: the member's port was found closed,
    /// twice, at the address and incarnation probed.
    pub failures_by_evidence: u64,
    /// Of those, decided by a Lifeguard suspicion that ran out.
    pub failures_by_timeout: u64,
    /// Of those, decided by a majority of failure reports (quorum detector).
    pub failures_by_quorum: u64,
    /// Closed ports reported by the driver (ICMP port-unreachable) for an
    /// address this node sent to.
    pub unreachables: u64,
    /// Of those, about the member being probed: evidence taken (the first
    /// of a pair starts the check, the second confirms it).
    pub unreachables_evidence: u64,
    /// Datagrams (or streams) sealed under no key of our keyring and our
    /// label (wrong key, other cluster, tampered), or sealed while we hold
    /// no keys.
    pub dropped_unauthenticated: u64,
    /// Datagrams in the clear while we accept only sealed ones.
    pub dropped_unencrypted: u64,
    /// Items left to anti-entropy because [`MAX_PUSHES`](super::MAX_PUSHES)
    /// items were already being pushed (rumor mongering's bounded queue).
    pub pushes_evicted: u64,
    /// Quorum detector: reports received that another member is failing.
    pub failure_reports: u64,
    /// Lifeguard: expired suspicions held back because nothing had reached
    /// this node for a probe interval (it may be the deaf one).
    pub declarations_deferred: u64,
    /// Load shedding: failed probes that raised no suspicion because this
    /// node was behind on its own work; each is probed again once it has
    /// caught up.
    pub suspicions_held: u64,
    /// Acks that arrived after their probe was counted failed: the target
    /// was alive and this node, or the path, too slow (load shedding takes
    /// it as a sign that this node is behind).
    pub late_acks: u64,
    /// Pings for another name that reached this node (not acknowledged).
    pub misdirected_pings: u64,
    /// Anti-entropy syncs this node started.
    pub syncs: u64,
    /// Digests ignored: not from a live member at its address.
    pub syncs_refused: u64,
    /// Syncs answered with nothing: the summaries matched.
    pub syncs_in_sync: u64,
    /// Times this node's view of a member's state was reset (it was behind
    /// what a peer had collected).
    pub state_resets: u64,
    /// Times this node found its own state from an earlier life and moved
    /// past it.
    pub state_restarts: u64,
    /// State items or deltas about members this node does not know.
    pub items_unknown_origin: u64,
    /// ItemLog payloads handed to the driver.
    pub streams_sent: u64,
    /// ItemLog payloads received (accepted or not).
    pub streams_received: u64,
    /// Messages too big to send by any path (a peer configured for larger
    /// datagrams or streams made them): skipped.
    pub items_oversized: u64,
    /// Independent confirmations of suspicions in progress that shortened
    /// them (Lifeguard).
    pub confirmations: u64,
    /// Dead or departed members removed after `reap_timeout`.
    pub reaped: u64,
    /// Direct probes answered, whose round trip was timed.
    pub probe_rtt_count: u64,
    /// Sum of those round trips, in microseconds.
    pub probe_rtt_sum_us: u64,
    /// How many took at most each bound of [`RTT_BUCKETS_US`] (not
    /// cumulative: each answer counts in its smallest bucket).
    pub probe_rtt_buckets: [u64; RTT_BUCKETS_US.len()],
}

impl Stats {
    /// All counters as `(name, value)` pairs, for exporters.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = [
            ("packets_sent", self.packets_sent),
            ("bytes_sent", self.bytes_sent),
            ("packets_received", self.packets_received),
            ("bytes_received", self.bytes_received),
            ("dropped_malformed", self.dropped_malformed),
            ("dropped_truncated", self.dropped_truncated),
            ("dropped_oversized", self.dropped_oversized),
            ("dropped_bad_magic", self.dropped_bad_magic),
            ("dropped_unknown_version", self.dropped_unknown_version),
            ("dropped_out_of_limits", self.dropped_out_of_limits),
            ("ping_reqs_refused", self.ping_reqs_refused),
            ("reconnects", self.reconnects),
            ("meets_refused", self.meets_refused),
            ("meets_dropped", self.meets_dropped),
            ("views_truncated", self.views_truncated),
            ("joins_refused", self.joins_refused),
            ("rejoins", self.rejoins),
            ("probes", self.probes),
            ("probes_failed", self.probes_failed),
            ("indirect_probes", self.indirect_probes),
            ("suspicions", self.suspicions),
            ("refutations", self.refutations),
            ("failures_declared", self.failures_declared),
            ("failures_by_evidence", self.failures_by_evidence),
            ("failures_by_timeout", self.failures_by_timeout),
            ("failures_by_quorum", self.failures_by_quorum),
            ("unreachables", self.unreachables),
            ("unreachables_evidence", self.unreachables_evidence),
            ("dropped_unauthenticated", self.dropped_unauthenticated),
            ("dropped_unencrypted", self.dropped_unencrypted),
            ("pushes_evicted", self.pushes_evicted),
            ("failure_reports", self.failure_reports),
            ("declarations_deferred", self.declarations_deferred),
            ("suspicions_held", self.suspicions_held),
            ("late_acks", self.late_acks),
            ("misdirected_pings", self.misdirected_pings),
            ("syncs", self.syncs),
            ("syncs_refused", self.syncs_refused),
            ("syncs_in_sync", self.syncs_in_sync),
            ("state_resets", self.state_resets),
            ("state_restarts", self.state_restarts),
            ("items_unknown_origin", self.items_unknown_origin),
            ("streams_sent", self.streams_sent),
            ("streams_received", self.streams_received),
            ("items_oversized", self.items_oversized),
            ("confirmations", self.confirmations),
            ("reaped", self.reaped),
            ("probe_rtt_count", self.probe_rtt_count),
            ("probe_rtt_sum_us", self.probe_rtt_sum_us),
        ]
        .into_iter()
        .map(|(k, v)| (String::from(k), v))
        .collect();
        out.push((String::from("dropped_total"), self.dropped_total()));
        for (i, kind) in MessageKind::ALL.iter().enumerate() {
            out.push((alloc::format!("sent_{}", kind.as_str()), self.messages_sent[i]));
            out.push((alloc::format!("received_{}", kind.as_str()), self.messages_received[i]));
            let sent = self.message_bytes_sent[i];
            out.push((alloc::format!("bytes_sent_{}", kind.as_str()), sent));
            let received = self.message_bytes_received[i];
            out.push((alloc::format!("bytes_received_{}", kind.as_str()), received));
        }
        out
    }

    /// Datagrams dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_truncated
            + self.dropped_oversized
            + self.dropped_bad_magic
            + self.dropped_unknown_version
            + self.dropped_out_of_limits
            + self.dropped_unauthenticated
            + self.dropped_unencrypted
    }

    /// Adds `other`'s counters to these: totals over several engines, or
    /// over the lives of one member that restarted.
    pub fn add(&mut self, other: &Stats) {
        // Destructured in full, so a new counter cannot be forgotten here.
        let Stats {
            packets_sent,
            bytes_sent,
            packets_received,
            bytes_received,
            dropped_malformed,
            dropped_truncated,
            dropped_oversized,
            dropped_bad_magic,
            dropped_unknown_version,
            dropped_out_of_limits,
            ping_reqs_refused,
            reconnects,
            meets_refused,
            meets_dropped,
            views_truncated,
            joins_refused,
            rejoins,
            messages_sent,
            messages_received,
            message_bytes_sent,
            message_bytes_received,
            probes,
            probes_failed,
            indirect_probes,
            suspicions,
            refutations,
            failures_declared,
            failures_by_evidence,
            failures_by_timeout,
            failures_by_quorum,
            unreachables,
            unreachables_evidence,
            dropped_unauthenticated,
            dropped_unencrypted,
            pushes_evicted,
            failure_reports,
            declarations_deferred,
            suspicions_held,
            late_acks,
            misdirected_pings,
            syncs,
            syncs_refused,
            syncs_in_sync,
            state_resets,
            state_restarts,
            items_unknown_origin,
            streams_sent,
            streams_received,
            items_oversized,
            confirmations,
            reaped,
            probe_rtt_count,
            probe_rtt_sum_us,
            probe_rtt_buckets,
        } = other;
        self.packets_sent += packets_sent;
        self.bytes_sent += bytes_sent;
        self.packets_received += packets_received;
        self.bytes_received += bytes_received;
        self.dropped_malformed += dropped_malformed;
        self.dropped_truncated += dropped_truncated;
        self.dropped_oversized += dropped_oversized;
        self.dropped_bad_magic += dropped_bad_magic;
        self.dropped_unknown_version += dropped_unknown_version;
        self.dropped_out_of_limits += dropped_out_of_limits;
        self.ping_reqs_refused += ping_reqs_refused;
        self.reconnects += reconnects;
        self.meets_refused += meets_refused;
        self.meets_dropped += meets_dropped;
        self.views_truncated += views_truncated;
        self.joins_refused += joins_refused;
        self.rejoins += rejoins;
        for (a, b) in self.messages_sent.iter_mut().zip(messages_sent) {
            *a += b;
        }
        for (a, b) in self.messages_received.iter_mut().zip(messages_received) {
            *a += b;
        }
        for (a, b) in self.message_bytes_sent.iter_mut().zip(message_bytes_sent) {
            *a += b;
        }
        for (a, b) in self.message_bytes_received.iter_mut().zip(message_bytes_received) {
            *a += b;
        }
        self.probes += probes;
        self.probes_failed += probes_failed;
        self.indirect_probes += indirect_probes;
        self.suspicions += suspicions;
        self.refutations += refutations;
        self.failures_declared += failures_declared;
        self.failures_by_evidence += failures_by_evidence;
        self.failures_by_timeout += failures_by_timeout;
        self.failures_by_quorum += failures_by_quorum;
        self.unreachables += unreachables;
        self.unreachables_evidence += unreachables_evidence;
        self.dropped_unauthenticated += dropped_unauthenticated;
        self.dropped_unencrypted += dropped_unencrypted;
        self.pushes_evicted += pushes_evicted;
        self.failure_reports += failure_reports;
        self.declarations_deferred += declarations_deferred;
        self.suspicions_held += suspicions_held;
        self.late_acks += late_acks;
        self.misdirected_pings += misdirected_pings;
        self.syncs += syncs;
        self.syncs_refused += syncs_refused;
        self.syncs_in_sync += syncs_in_sync;
        self.state_resets += state_resets;
        self.state_restarts += state_restarts;
        self.items_unknown_origin += items_unknown_origin;
        self.streams_sent += streams_sent;
        self.streams_received += streams_received;
        self.items_oversized += items_oversized;
        self.confirmations += confirmations;
        self.reaped += reaped;
        self.probe_rtt_count += probe_rtt_count;
        self.probe_rtt_sum_us += probe_rtt_sum_us;
        for (a, b) in self.probe_rtt_buckets.iter_mut().zip(probe_rtt_buckets) {
            *a += b;
        }
    }

    /// Counts one timed probe round trip.
    pub(crate) fn time_probe(&mut self, rtt: core::time::Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        self.probe_rtt_count += 1;
        self.probe_rtt_sum_us = self.probe_rtt_sum_us.saturating_add(us);
        if let Some(i) = RTT_BUCKETS_US.iter().position(|&b| us <= b) {
            self.probe_rtt_buckets[i] += 1;
        }
    }

    pub(crate) fn count_sent(&mut self, kind: MessageKind, bytes: usize) {
        self.messages_sent[kind as usize] += 1;
        self.message_bytes_sent[kind as usize] += bytes as u64;
    }

    pub(crate) fn count_received(&mut self, kind: MessageKind, bytes: usize) {
        self.messages_received[kind as usize] += 1;
        self.message_bytes_received[kind as usize] += bytes as u64;
    }
}

//! Protocol configuration, its presets and its validation.

use crate::codec::{Key, MAX_KEYS, MAX_LABEL_LEN};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

/// Every timing and size knob of the protocol.
///
/// Build one from a preset ([`Config::lan`], [`Config::local`],
/// [`Config::wan`]), change fields, then [`Config::validate`] it; the engine
/// refuses an invalid config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Time between two probes of the failure detector.
    pub probe_interval: Duration,
    /// How long a direct Ping waits for its Ack before indirect probes start.
    pub probe_timeout: Duration,
    /// Time between two gossip rounds of pending updates.
    pub gossip_interval: Duration,
    /// Members each gossip round is sent to.
    pub gossip_fanout: usize,
    /// Scales the suspicion timeout:
    /// `suspicion_mult * max(1, log10 n) * probe_interval`.
    pub suspicion_mult: u32,
    /// Upper bound of the suspicion timeout, as a multiple of the minimum
    /// (used by Lifeguard's shrinking suspicion timeout).
    pub suspicion_max_timeout_mult: u32,
    /// Each update is sent at most `retransmit_mult * ceil(log10(n + 1))` times.
    pub retransmit_mult: u32,
    /// Members asked to probe a target that missed its direct Ack.
    pub indirect_checks: usize,
    /// Lifeguard (Dadgar et al., 2018): a member that misses its own acks
    /// or nacks slows its probing (local health), suspicions start long and
    /// shrink as independent members confirm them, and a suspect is told so
    /// with each probe. Off: plain SWIM, for comparison.
    pub lifeguard: bool,
    /// Crash detection from evidence: when the OS reports a probe's
    /// datagram refused (ICMP port-unreachable: the member's process is
    /// gone, its host is up), the prober checks once more and, confirmed,
    /// declares the member dead at once instead of waiting out the
    /// suspicion. A paused process keeps its port and stays silent, so
    /// pause tolerance is unchanged. On in `lan` and `local`; off in `wan`,
    /// where a firewall or NAT may answer for hosts that are fine.
    pub closed_port_evidence: bool,
    /// Lifeguard's cap on the local health multiplier: probing slows to at
    /// most this many times `probe_interval` (and `probe_timeout`).
    pub awareness_max_multiplier: u32,
    /// Which failure detector decides that a member failed.
    pub failure_detector: FailureDetector,
    /// The quorum detector's timeout: a member that has not answered our
    /// pings for this long is marked failing here (Redis Cluster's
    /// `cluster-node-timeout`). Unused by SWIM.
    pub node_timeout: Duration,
    /// Period of anti-entropy syncs (each member starts one per period);
    /// zero disables them (rumor mongering alone then spreads state and
    /// rumors, with no repair).
    pub push_pull_interval: Duration,
    /// Stretch `push_pull_interval` as the cluster grows, as memberlist
    /// does: above 32 members it is multiplied by `ceil(log2 n - 5) + 1`
    /// (10 at 10,000 members), so a digest listing every member does not
    /// flood a large cluster.
    pub push_pull_scale: bool,
    /// What an anti-entropy sync exchanges.
    pub anti_entropy: AntiEntropyMode,
    /// Whom a member syncs with.
    pub sync_peers: SyncPeers,
    /// When a member stops pushing an item of the replicated state or a
    /// user rumor (rumor mongering).
    pub stop_policy: StopPolicy,
    /// Push news to `gossip_fanout` members the moment it arrives (or is
    /// made), not only at the next gossip round: a broadcast, a join or a
    /// failure then crosses the cluster in a few network round trips
    /// instead of a few gossip intervals. The pushes count toward the stop
    /// policy (items) or the retransmit limit (membership updates).
    pub eager_push: bool,
    /// How long tombstones of deleted keys and delivered rumors are kept
    /// for anti-entropy before they are collected. A member out of touch
    /// for longer resyncs from scratch and misses those rumors.
    pub state_gc_grace: Duration,
    /// Datagrams one answer to a digest chunk may take, at most (the rest
    /// waits for the next sync). A push_pull or push sync also sends the
    /// asker's own digest, which this does not count.
    pub sync_max_datagrams: usize,
    /// How long dead members are still gossiped to, so one wrongly declared
    /// dead hears it and refutes.
    pub gossip_to_the_dead_time: Duration,
    /// How often a member tries to reach one random dead member, to heal a
    /// partition (Serf's reconnect); zero disables it.
    pub reconnect_interval: Duration,
    /// How long a member that has had peers may see no live member before
    /// it joins again through its seeds, names resolved anew (every such
    /// interval while it stays alone): a cluster whose members all
    /// restarted, or a partition reconnects no longer cover, heals without
    /// anyone calling `join`. Zero disables it.
    pub rejoin_interval: Duration,
    /// How long a dead or departed member stays listed (and is tried by
    /// reconnects) before it is removed; one that comes back after that is
    /// a fresh join. Serf's reconnect and tombstone timeouts: 24 h.
    pub reap_timeout: Duration,
    /// Largest datagram this node sends, in bytes.
    pub max_packet_size: usize,
    /// Largest metadata a member may carry, in bytes.
    pub max_meta_size: usize,
    /// Largest payload sent over a stream (TCP) instead of a datagram: a
    /// broadcast or value too big for one datagram, an anti-entropy answer
    /// too big for `sync_max_datagrams`. Zero disables streams. It is the
    /// largest broadcast payload or value a member accepts, exactly; a
    /// stream frame carries up to [`STREAM_FRAME_OVERHEAD`] more bytes for
    /// the envelope, names, key and seal around it.
    pub max_stream_size: usize,
    /// Encryption keys, the primary (used to seal) first. Empty: datagrams
    /// and streams go out in the clear. With keys, every datagram and
    /// stream is sealed (XChaCha20-Poly1305), and anything not sealed under
    /// one of these keys and this `label` is dropped and counted. Every
    /// member of a cluster needs the same setting; change keys at runtime
    /// through the engine's keyring (add, use, remove).
    pub keys: Vec<Key>,
    /// The cluster's name, bound into every sealed datagram: two clusters
    /// sharing a key but not a label never accept each other's traffic.
    /// Only used with `keys`.
    pub label: String,
}

/// What an anti-entropy sync between two members exchanges (Demers et al.
/// 1987): `Push` sends what the peer lacks, `Pull` fetches what we lack,
/// `PushPull` both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntiEntropyMode {
    /// We send the peer what it lacks.
    Push,
    /// The peer sends us what we lack.
    Pull,
    /// Both.
    PushPull,
}

/// How members decide that another member failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureDetector {
    /// SWIM (with Lifeguard unless it is off): one probe per interval,
    /// direct then indirect; a failed probe raises a suspicion, which
    /// the suspect can refute, and one that runs out declares it dead.
    Swim,
    /// Redis Cluster's detector: each member pings every other at least
    /// every `node_timeout / 2`; one unanswered for `node_timeout` is
    /// marked failing here (an `Event::Suspected`) and reported with every
    /// ping. A member holding reports from a majority of the live members,
    /// its own among them, declares it failed and tells every member at
    /// once. Reports expire after `2 * node_timeout`; a failed member that
    /// comes back is readmitted no sooner than `2 * node_timeout` after its
    /// failure. Pings grow as n² across the cluster: meant for clusters of
    /// up to a few hundred members, as Redis's is. As in Redis, once half
    /// the members or more are gone for good, no majority can form: the
    /// rest stay failing (suspect) until someone removes them.
    Quorum,
}

/// Whom a member syncs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPeers {
    /// A random live member each time.
    Random,
    /// Its successor among the live members sorted by name: a closed loop
    /// that reaches everyone within n - 1 syncs, with no randomness.
    Ring,
}

/// When a member stops pushing a piece of news (Demers et al. 1987).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopPolicy {
    /// After `retransmit_mult * ceil(log10(n + 1))` pushes (memberlist).
    RetransmitLimit,
    /// Counter with feedback: after `k` pushes to members that already
    /// knew it.
    Counter(u32),
    /// Blind coin: after each push, with probability `1 / k`.
    Coin(u32),
}

/// A configuration value outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// The allowed range, in words.
    pub allowed: String,
    /// The value that was given.
    pub got: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be {}, got {}", self.field, self.allowed, self.got)
    }
}

impl std::error::Error for ConfigError {}

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Bytes a stream frame may carry beyond `max_stream_size`: the header, the
/// Update or Delta around one item (a 128-byte name, a 256-byte key, five
/// varints) and the seal, with room to spare, so that `max_stream_size` is
/// the payload limit users are told, not the payload plus its framing.
pub const STREAM_FRAME_OVERHEAD: usize = 1024;

impl Config {
    /// The largest stream frame sent or accepted: `max_stream_size` plus
    /// [`STREAM_FRAME_OVERHEAD`] (0: streams are off).
    pub fn stream_frame_limit(&self) -> usize {
        match self.max_stream_size {
            0 => 0,
            n => n + STREAM_FRAME_OVERHEAD,
        }
    }

    /// hashicorp/memberlist's `DefaultLANConfig`: a data-centre network.
    pub fn lan() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            gossip_interval: Duration::from_millis(200),
            gossip_fanout: 3,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 4,
            indirect_checks: 3,
            lifeguard: true,
            closed_port_evidence: true,
            awareness_max_multiplier: 8,
            failure_detector: FailureDetector::Swim,
            node_timeout: Duration::from_secs(15),
            push_pull_interval: Duration::from_secs(30),
            push_pull_scale: true,
            anti_entropy: AntiEntropyMode::PushPull,
            sync_peers: SyncPeers::Random,
            stop_policy: StopPolicy::RetransmitLimit,
            eager_push: true,
            state_gc_grace: Duration::from_secs(600),
            sync_max_datagrams: 16,
            gossip_to_the_dead_time: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            rejoin_interval: Duration::from_secs(30),
            reap_timeout: DAY,
            max_packet_size: 1400,
            max_meta_size: 512,
            max_stream_size: 4 << 20,
            keys: Vec::new(),
            label: String::new(),
        }
    }

    /// memberlist's `DefaultLocalConfig`: one host or a fast local network.
    pub fn local() -> Self {
        Config {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(200),
            gossip_interval: Duration::from_millis(100),
            gossip_fanout: 3,
            suspicion_mult: 3,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 2,
            indirect_checks: 1,
            push_pull_interval: Duration::from_secs(15),
            gossip_to_the_dead_time: Duration::from_secs(15),
            reconnect_interval: Duration::from_secs(15),
            rejoin_interval: Duration::from_secs(10),
            ..Config::lan()
        }
    }

    /// memberlist's `DefaultWANConfig`: members across the internet.
    pub fn wan() -> Self {
        Config {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            gossip_interval: Duration::from_millis(500),
            gossip_fanout: 4,
            suspicion_mult: 6,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 4,
            indirect_checks: 3,
            push_pull_interval: Duration::from_secs(60),
            gossip_to_the_dead_time: Duration::from_secs(60),
            reconnect_interval: Duration::from_secs(60),
            rejoin_interval: Duration::from_secs(60),
            closed_port_evidence: false,
            ..Config::lan()
        }
    }

    /// Checks every field against its allowed range; the first field out of
    /// range is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        dur("probe_interval", self.probe_interval, 10 * MS, HOUR)?;
        // Strictly shorter: the indirect probes need the rest of the interval.
        if self.probe_timeout < MS || self.probe_timeout >= self.probe_interval {
            return Err(ConfigError {
                field: "probe_timeout",
                allowed: format!(
                    "at least 0.001 s and less than probe_interval ({} s)",
                    secs(self.probe_interval)
                ),
                got: format!("{} s", secs(self.probe_timeout)),
            });
        }
        dur("gossip_interval", self.gossip_interval, MS, HOUR)?;
        int("gossip_fanout", self.gossip_fanout as u64, 1, 64)?;
        int("suspicion_mult", self.suspicion_mult as u64, 1, 100)?;
        int("suspicion_max_timeout_mult", self.suspicion_max_timeout_mult as u64, 1, 100)?;
        int("retransmit_mult", self.retransmit_mult as u64, 1, 100)?;
        int("indirect_checks", self.indirect_checks as u64, 0, 16)?;
        int("awareness_max_multiplier", self.awareness_max_multiplier as u64, 1, 100)?;
        dur("node_timeout", self.node_timeout, 10 * MS, HOUR)?;
        dur("push_pull_interval", self.push_pull_interval, Duration::ZERO, DAY)?;
        if let StopPolicy::Counter(k) | StopPolicy::Coin(k) = self.stop_policy {
            int("stop_policy k", k as u64, 1, 1000)?;
        }
        dur("state_gc_grace", self.state_gc_grace, MS, 30 * DAY)?;
        int("sync_max_datagrams", self.sync_max_datagrams as u64, 1, 1024)?;
        if self.max_stream_size != 0 {
            int("max_stream_size", self.max_stream_size as u64, 65_536, 256 << 20).map_err(
                |mut e| {
                    e.allowed = format!("0 (no streams) or {}", e.allowed);
                    e
                },
            )?;
        }
        dur("gossip_to_the_dead_time", self.gossip_to_the_dead_time, Duration::ZERO, DAY)?;
        dur("reconnect_interval", self.reconnect_interval, Duration::ZERO, DAY)?;
        if !self.rejoin_interval.is_zero() {
            // Shorter would rejoin at every blip of a two-member cluster.
            dur("rejoin_interval", self.rejoin_interval, self.probe_interval, DAY).map_err(
                |mut e| {
                    e.allowed = format!(
                        "0 (never) or between probe_interval ({} s) and {} s",
                        secs(self.probe_interval),
                        secs(DAY)
                    );
                    e
                },
            )?;
        }
        dur("reap_timeout", self.reap_timeout, self.gossip_to_the_dead_time.max(MS), 30 * DAY)
            .map_err(|mut e| {
                e.allowed = format!(
                    "at least gossip_to_the_dead_time ({} s) and at most 30 days",
                    secs(self.gossip_to_the_dead_time)
                );
                e
            })?;
        int(
            "max_packet_size",
            self.max_packet_size as u64,
            512,
            crate::codec::MAX_DATAGRAM as u64,
        )?;
        int("max_meta_size", self.max_meta_size as u64, 0, (self.max_packet_size / 2) as u64)
            .map_err(|mut e| {
                e.allowed =
                    format!("between 0 and max_packet_size / 2 ({})", self.max_packet_size / 2);
                e
            })?;
        int("keys", self.keys.len() as u64, 0, MAX_KEYS as u64).map_err(|mut e| {
            e.allowed = format!("at most {MAX_KEYS} keys");
            e.got = format!("{} keys", self.keys.len());
            e
        })?;
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].contains(k) {
                return Err(ConfigError {
                    field: "keys",
                    allowed: String::from("distinct keys"),
                    got: format!("key {i} repeating an earlier one"),
                });
            }
        }
        if self.keys.iter().any(|k| k.0 == [0; 32]) {
            return Err(ConfigError {
                field: "keys",
                allowed: String::from("random 32-byte keys"),
                got: String::from("an all-zero key"),
            });
        }
        if !self.label.is_empty() && self.keys.is_empty() {
            return Err(ConfigError {
                field: "label",
                allowed: String::from("empty unless keys are set (it is bound into sealing)"),
                got: format!("{:?} without keys", self.label),
            });
        }
        int("label", self.label.len() as u64, 0, MAX_LABEL_LEN as u64).map_err(|mut e| {
            e.allowed = format!("at most {MAX_LABEL_LEN} bytes");
            e.got = format!("{} bytes", self.label.len());
            e
        })?;
        Ok(())
    }

    /// The minimum suspicion timeout for a cluster of `n` members:
    /// `suspicion_mult * max(1, log10 n) * probe_interval` (memberlist).
    pub fn suspicion_timeout(&self, n: usize) -> Duration {
        // libm, not the platform's maths library: the same inputs give the
        // same timeouts on every machine, which keeps simulations portable.
        let scale = libm::log10(n.max(1) as f64).max(1.0);
        self.probe_interval.mul_f64(self.suspicion_mult as f64 * scale)
    }

    /// Lifeguard's suspicion timeout after `confirmations` independent
    /// members besides the first accuser confirmed it, in a cluster of `n`:
    /// `max - log(c + 1) / log(k + 1) * (max - min)` with `k =
    /// suspicion_mult - 2`, never below `min` (memberlist's formula; `max` is
    /// `suspicion_max_timeout_mult * min`). Without Lifeguard, `min`.
    pub fn suspicion_timeout_after(&self, n: usize, confirmations: u32) -> Duration {
        let min = self.suspicion_timeout(n);
        if !self.lifeguard {
            return min;
        }
        let max = min * self.suspicion_max_timeout_mult;
        let k = self.suspicion_mult.saturating_sub(2);
        // Too few other members to ever confirm k times: no point waiting
        // for them (memberlist's rule).
        if k == 0 || (n as u64).saturating_sub(2) < u64::from(k) {
            return min;
        }
        let frac = libm::log((confirmations + 1) as f64) / libm::log((k + 1) as f64);
        let span = (max - min).as_secs_f64();
        let t = max.as_secs_f64() - frac * span;
        Duration::from_secs_f64(t.max(min.as_secs_f64()))
    }

    /// The period of anti-entropy syncs in a cluster of `n` members (see
    /// `push_pull_scale`).
    pub fn push_pull_period(&self, n: usize) -> Duration {
        if !self.push_pull_scale || n <= 32 {
            return self.push_pull_interval;
        }
        let multiplier = libm::ceil(libm::log2(n as f64) - 5.0) + 1.0;
        self.push_pull_interval.mul_f64(multiplier)
    }

    /// How often the quorum detector checks its pings and reports:
    /// a tenth of `node_timeout`, between 10 ms and 1 s (Redis checks
    /// every 100 ms).
    pub fn quorum_tick(&self) -> Duration {
        (self.node_timeout / 10).clamp(10 * MS, Duration::from_secs(1))
    }

    /// How many times one update is gossiped in a cluster of `n` members:
    /// `retransmit_mult * ceil(log10(n + 1))`.
    pub fn retransmit_limit(&self, n: usize) -> u32 {
        let scale = libm::ceil(libm::log10((n + 1) as f64)) as u32;
        self.retransmit_mult * scale.max(1)
    }
}

fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

fn dur(field: &'static str, v: Duration, lo: Duration, hi: Duration) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return Err(ConfigError {
            field,
            allowed: format!("between {} s and {} s", secs(lo), secs(hi)),
            got: format!("{} s", secs(v)),
        });
    }
    Ok(())
}

fn int(field: &'static str, v: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return Err(ConfigError {
            field,
            allowed: format!("between {lo} and {hi}"),
            got: format!("{v}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for c in [Config::lan(), Config::local(), Config::wan()] {
            c.validate().unwrap();
        }
    }

    #[test]
    fn errors_name_the_field_and_range() {
        let c = Config { gossip_fanout: 0, ..Config::lan() };
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "gossip_fanout");
        assert_eq!(e.to_string(), "gossip_fanout must be between 1 and 64, got 0");
        let c = Config { probe_timeout: Duration::from_secs(2), ..Config::lan() };
        assert_eq!(c.validate().unwrap_err().field, "probe_timeout");
        let c = Config { probe_timeout: Duration::from_secs(1), ..Config::lan() };
        assert_eq!(
            c.validate().unwrap_err().field,
            "probe_timeout",
            "must leave room for indirect probes"
        );
    }

    #[test]
    fn formulas_match_memberlist() {
        let c = Config::lan();
        assert_eq!(c.retransmit_limit(1), 4);
        assert_eq!(c.retransmit_limit(9), 4);
        assert_eq!(c.retransmit_limit(10), 8);
        assert_eq!(c.retransmit_limit(32), 8);
        assert_eq!(c.retransmit_limit(100), 12);
        assert_eq!(c.suspicion_timeout(5), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout(100), Duration::from_secs(8));
        assert_eq!(c.push_pull_period(32), Duration::from_secs(30));
        assert_eq!(c.push_pull_period(33), Duration::from_secs(60));
        assert_eq!(c.push_pull_period(10_000), Duration::from_secs(300));
        // Lifeguard: 6x the minimum at first, down to it after k = 2
        // confirmations.
        assert_eq!(c.suspicion_timeout_after(5, 0), Duration::from_secs(24));
        assert_eq!(c.suspicion_timeout_after(3, 0), Duration::from_secs(4), "too few to confirm");
        let one = c.suspicion_timeout_after(5, 1).as_secs_f64();
        assert!((one - (24.0 - 20.0 * (2f64.ln() / 3f64.ln()))).abs() < 1e-9, "{one}");
        assert_eq!(c.suspicion_timeout_after(5, 2), Duration::from_secs(4));
        assert_eq!(c.suspicion_timeout_after(5, 9), Duration::from_secs(4));
        let plain = Config { lifeguard: false, ..Config::lan() };
        assert_eq!(plain.suspicion_timeout_after(5, 0), Duration::from_secs(4));
    }
}

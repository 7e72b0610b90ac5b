//! The simulated network: latency, loss, duplication, reordering and
//! partitions, set for all links or per link, at any time.

use core::time::Duration;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use std::collections::{HashMap, HashSet};

/// How long a datagram takes on a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between the two bounds (inclusive low, exclusive high).
    Uniform(Duration, Duration),
    /// Normal with this mean and standard deviation, never below `floor`.
    Normal {
        /// Mean.
        mean: Duration,
        /// Standard deviation.
        std_dev: Duration,
        /// Lowest value drawn.
        floor: Duration,
    },
}

impl Latency {
    /// Draws one latency.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(lo, hi) => {
                let span = hi.saturating_sub(lo).as_nanos() as u64;
                lo + Duration::from_nanos(if span == 0 { 0 } else { rng.next_u64() % span })
            }
            Latency::Normal { mean, std_dev, floor } => {
                // Box-Muller on two uniforms in (0, 1].
                let u1 = unit(rng).max(f64::MIN_POSITIVE);
                let u2 = unit(rng);
                // libm keeps the draw identical on every platform.
                let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2);
                let secs = mean.as_secs_f64() + z * std_dev.as_secs_f64();
                Duration::from_secs_f64(secs.max(floor.as_secs_f64()).max(0.0))
            }
        }
    }

    /// The largest latency this distribution is likely to produce (for
    /// sizing reorder delays).
    pub fn typical_max(&self) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(_, hi) => hi,
            Latency::Normal { mean, std_dev, .. } => mean + std_dev * 3,
        }
    }
}

/// A uniform float in [0, 1).
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// The shortest hold-back window of a reordered datagram, so reordering
/// still happens on a link with no latency.
pub const MIN_REORDER_WINDOW: Duration = Duration::from_millis(1);

/// The behaviour of one directed link (or of every link, as the default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Delay of each datagram.
    pub latency: Latency,
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by an extra delay of up to twice
    /// the link's typical maximum latency (at least [`MIN_REORDER_WINDOW`]),
    /// so later ones overtake it.
    pub reorder: f64,
}

impl Default for Link {
    /// A LAN: 0.2–2 ms, nothing lost, duplicated or reordered.
    fn default() -> Self {
        Link {
            latency: Latency::Uniform(Duration::from_micros(200), Duration::from_millis(2)),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}

/// What happens to one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Lost, or blocked by a partition.
    Dropped,
    /// Delivered after each of these delays (two for a duplicate).
    Delivered(Vec<Duration>),
}

/// The network between the simulated nodes, identified by index.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// The behaviour of every link without an override.
    pub default: Link,
    links: HashMap<(u32, u32), Link>,
    /// Partition group of each node (absent: group 0).
    groups: HashMap<u32, u32>,
    /// `(from group, to group)` pairs that cannot communicate.
    blocked: HashSet<(u32, u32)>,
}

impl Network {
    /// Overrides the link from `src` to `dst` (one direction).
    pub fn set_link(&mut self, src: u32, dst: u32, link: Link) {
        self.links.insert((src, dst), link);
    }

    /// Applies `change` to the default link and to every overridden link,
    /// so a network-wide setting (say, a new loss rate) reaches links that
    /// were given settings of their own while keeping their other settings.
    pub fn update_links(&mut self, change: impl Fn(&mut Link)) {
        change(&mut self.default);
        for link in self.links.values_mut() {
            change(link);
        }
    }

    /// Removes every per-link override.
    pub fn clear_links(&mut self) {
        self.links.clear();
    }

    /// The link from `src` to `dst`.
    pub fn link(&self, src: u32, dst: u32) -> &Link {
        self.links.get(&(src, dst)).unwrap_or(&self.default)
    }

    /// Splits the nodes into `groups` (nodes in none form one more group).
    /// Two-way: no group reaches another. One-way: a group cannot send to
    /// any group listed after it, but hears from them.
    pub fn partition(&mut self, groups: &[Vec<u32>], one_way: bool) {
        self.groups.clear();
        self.blocked.clear();
        let n = groups.len() as u32;
        for (g, members) in groups.iter().enumerate() {
            for &i in members {
                self.groups.insert(i, g as u32 + 1);
            }
        }
        // Group 0 holds the nodes not listed: it comes last.
        let order = |g: u32| if g == 0 { n + 1 } else { g };
        let all: Vec<u32> = (0..=n).collect();
        for &a in &all {
            for &b in &all {
                if a == b {
                    continue;
                }
                if !one_way || order(a) < order(b) {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.groups.clear();
        self.blocked.clear();
    }

    /// Whether a partition separates `src` from `dst` in that direction.
    pub fn is_blocked(&self, src: u32, dst: u32) -> bool {
        if self.blocked.is_empty() {
            return false;
        }
        let g = |i: u32| self.groups.get(&i).copied().unwrap_or(0);
        self.blocked.contains(&(g(src), g(dst)))
    }

    /// Decides the fate of one stream payload (TCP) from `src` to `dst`:
    /// blocked by a partition, else delivered once, whole, after one
    /// latency (TCP retransmits what the link loses).
    pub fn stream_fate(&self, src: u32, dst: u32, rng: &mut ChaCha8Rng) -> Fate {
        if self.is_blocked(src, dst) {
            return Fate::Dropped;
        }
        Fate::Delivered(vec![self.link(src, dst).latency.sample(rng)])
    }

    /// Decides the fate of one datagram from `src` to `dst`.
    pub fn fate(&self, src: u32, dst: u32, rng: &mut ChaCha8Rng) -> Fate {
        if self.is_blocked(src, dst) {
            return Fate::Dropped;
        }
        let link = self.link(src, dst);
        if link.loss > 0.0 && unit(rng) < link.loss {
            return Fate::Dropped;
        }
        let mut delay = link.latency.sample(rng);
        if link.reorder > 0.0 && unit(rng) < link.reorder {
            let window = (link.latency.typical_max() * 2).max(MIN_REORDER_WINDOW);
            delay += Duration::from_nanos(rng.next_u64() % window.as_nanos() as u64);
        }
        let mut out = vec![delay];
        if link.duplicate > 0.0 && unit(rng) < link.duplicate {
            out.push(link.latency.sample(rng));
        }
        Fate::Delivered(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn two_way_partition_blocks_both_directions() {
        let mut n = Network::default();
        n.partition(&[vec![0, 1]], false);
        assert!(n.is_blocked(0, 2) && n.is_blocked(2, 0));
        assert!(!n.is_blocked(0, 1) && !n.is_blocked(2, 3));
        n.heal();
        assert!(!n.is_blocked(0, 2));
    }

    #[test]
    fn one_way_partition_blocks_one_direction() {
        let mut n = Network::default();
        n.partition(&[vec![0], vec![1]], true);
        assert!(n.is_blocked(0, 1), "first group cannot send to the second");
        assert!(!n.is_blocked(1, 0), "but hears from it");
        assert!(n.is_blocked(1, 2) && !n.is_blocked(2, 1));
    }

    #[test]
    fn network_wide_change_reaches_overridden_links() {
        let mut n = Network::default();
        n.set_link(0, 1, Link { duplicate: 0.5, ..Link::default() });
        n.update_links(|l| l.loss = 0.2);
        assert_eq!(n.default.loss, 0.2);
        assert_eq!(n.link(0, 1).loss, 0.2);
        assert_eq!(n.link(0, 1).duplicate, 0.5, "its own settings are kept");
    }

    #[test]
    fn normal_latency_respects_its_floor() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let l = Latency::Normal {
            mean: Duration::from_millis(5),
            std_dev: Duration::from_millis(5),
            floor: Duration::from_millis(1),
        };
        let xs: Vec<Duration> = (0..10_000).map(|_| l.sample(&mut rng)).collect();
        assert!(xs.iter().all(|d| *d >= Duration::from_millis(1)));
        let mean = xs.iter().sum::<Duration>() / xs.len() as u32;
        assert!(mean > Duration::from_millis(5) && mean < Duration::from_millis(7), "{mean:?}");
    }

    #[test]
    fn reordering_holds_datagrams_back_even_without_latency() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut n = Network::default();
        n.default.latency = Latency::Fixed(Duration::ZERO);
        n.default.reorder = 0.5;
        let delays: Vec<Duration> = (0..1000)
            .map(|_| match n.fate(0, 1, &mut rng) {
                Fate::Delivered(d) => d[0],
                Fate::Dropped => unreachable!("no loss"),
            })
            .collect();
        let held = delays.iter().filter(|d| !d.is_zero()).count();
        assert!((400..600).contains(&held), "{held} of 1000 held back");
        assert!(delays.iter().all(|d| *d < MIN_REORDER_WINDOW));
    }

    #[test]
    fn loss_rate_is_honoured() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut n = Network::default();
        n.default.loss = 0.25;
        let lost = (0..20_000).filter(|_| n.fate(0, 1, &mut rng) == Fate::Dropped).count();
        assert!((4_500..5_500).contains(&lost), "{lost}");
    }
}

//! The order SWIM probes members in: a fresh pseudo-random permutation of
//! the member ids each round, with late joiners slotted in at random.

use super::table::Id;
use alloc::vec::Vec;
use rand_core::Rng;

/// The order members are probed in: a round visits every id known at its
/// start once, in an order that is a fresh pseudo-random permutation each
/// round (a keyed Feistel network on the ids, so the order costs the same
/// few bytes whatever the size of the cluster). Members learned or revived
/// during a round go at random places among those not yet probed.
#[derive(Debug, Default)]
pub(crate) struct ProbeOrder {
    /// Round keys of the permutation.
    keys: [u64; 4],
    /// Ids below `size` are permuted this round.
    size: u64,
    /// Half the bits of the permuted domain, `[0, 4^half)`, which is the
    /// smallest power of four at least `size`.
    half: u32,
    /// Next position in the permuted domain.
    pos: u64,
    /// Permuted ids not visited yet this round.
    left: u64,
    /// Ids added during the round, not visited yet.
    late: Vec<Id>,
    /// Above the largest id added late this round: an id at least this
    /// cannot be in `late`. Members learned in a burst come with growing
    /// ids, so a mass join's adds skip the O(late) search (it made the
    /// 10,000 join O(n²) per engine).
    late_bound: Id,
}

impl ProbeOrder {
    /// Makes sure `id` is visited this round: at a random place among the
    /// ids left, unless the round's permutation is still to reach it.
    pub(crate) fn add(&mut self, id: Id) {
        let x = u64::from(id);
        if x < self.size && self.unpermute(x) >= self.pos {
            return;
        }
        if id >= self.late_bound || !self.late.contains(&id) {
            self.late.push(id);
            self.late_bound = self.late_bound.max(id.saturating_add(1));
        }
    }

    /// Member `id` was reaped: it is not visited late this round (the
    /// permutation skips members no longer live).
    pub(crate) fn forget(&mut self, id: Id) {
        self.late.retain(|&x| x != id);
    }

    pub(crate) fn start_round(&mut self, size: usize, rng: &mut impl Rng) {
        self.size = size as u64;
        self.half = 0;
        while (1u64 << (2 * self.half)) < self.size {
            self.half += 1;
        }
        for k in &mut self.keys {
            *k = rng.next_u64();
        }
        self.pos = 0;
        self.left = self.size;
        self.late.clear();
        self.late_bound = 0;
        // A mass join leaves room for a thousand late ids (4 bytes per
        // member entry) in every engine: give it back at the round's start.
        // Only after a burst grew it, so no allocation per round.
        if self.late.capacity() > 16 {
            self.late.shrink_to(16);
        }
    }

    /// The next id of the round, or `None` once the round is over.
    pub(crate) fn next(&mut self, rng: &mut impl Rng) -> Option<Id> {
        let total = self.left + self.late.len() as u64;
        if total == 0 {
            return None;
        }
        let draw = rng.next_u64() % total;
        if draw < self.late.len() as u64 {
            let id = self.late.swap_remove(draw as usize);
            // Drained to a quarter: give half the room back (amortized
            // O(1): a shrink comes after as many visits as it copies).
            let (len, cap) = (self.late.len(), self.late.capacity());
            if cap > 16 && len * 4 <= cap {
                self.late.shrink_to(len * 2);
            }
            return Some(id);
        }
        // Cycle-walk: skip the permuted values at or above `size` (fewer
        // than three in four).
        loop {
            let x = self.permute(self.pos);
            self.pos += 1;
            if x < self.size {
                self.left -= 1;
                return Some(x as Id);
            }
        }
    }

    /// A bijection of `[0, 4^half)`: four Feistel rounds over two halves.
    fn permute(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys {
            let f = mix(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half) | r
    }

    /// The inverse of [`ProbeOrder::permute`]: the position of `x`.
    fn unpermute(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys.iter().rev() {
            (l, r) = (r ^ (mix(l ^ k) & mask), l);
        }
        (l << self.half) | r
    }
}

/// SplitMix64's finalizer: a cheap, well-mixing 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// The ids one round visits, in order.
    fn round(order: &mut ProbeOrder, rng: &mut ChaCha8Rng) -> Vec<Id> {
        core::iter::from_fn(|| order.next(rng)).collect()
    }

    /// The late list of a mass join gives its room back as it drains, and
    /// at the next round (issue 16: bytes per member entry).
    #[test]
    fn late_room_is_given_back_at_the_next_round() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut order = ProbeOrder::default();
        order.start_round(0, &mut rng);
        for id in 0..1000 {
            order.add(id);
        }
        assert_eq!(round(&mut order, &mut rng).len(), 1000);
        assert!(order.late.capacity() <= 16, "drained: {}", order.late.capacity());
        for id in 0..1000 {
            order.add(id);
        }
        order.start_round(1000, &mut rng);
        assert!(order.late.capacity() <= 16, "room left: {}", order.late.capacity());
    }

    #[test]
    fn a_round_visits_every_id_once_in_a_fresh_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for size in [0usize, 1, 2, 3, 5, 16, 17, 64, 1000, 4097] {
            let mut order = ProbeOrder::default();
            order.start_round(size, &mut rng);
            let first = round(&mut order, &mut rng);
            let mut sorted = first.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..size as Id).collect::<Vec<_>>(), "size {size}");
            if size >= 16 {
                order.start_round(size, &mut rng);
                let second = round(&mut order, &mut rng);
                assert_ne!(first, second, "each round has its own order (size {size})");
                assert_ne!(first, sorted, "not the identity (size {size})");
            }
        }
    }

    #[test]
    fn the_permutation_inverts() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut order = ProbeOrder::default();
        order.start_round(1000, &mut rng);
        for x in 0..1024 {
            assert_eq!(order.unpermute(order.permute(x)), x);
        }
    }

    /// A member revived mid-round is visited once more in the round: by the
    /// permutation if it is still ahead, else from the late list (once,
    /// however often it is added). One passed while dead was skipped then.
    #[test]
    fn a_member_revived_mid_round_is_visited_once_more() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let revived: [Id; 4] = [3, 3, 11, 19];
        for _ in 0..100 {
            let mut order = ProbeOrder::default();
            order.start_round(20, &mut rng);
            let passed: Vec<Id> = (0..7).filter_map(|_| order.next(&mut rng)).collect();
            for id in revived {
                order.add(id);
            }
            let rest = round(&mut order, &mut rng);
            for id in 0..20 {
                let times = rest.iter().filter(|&&x| x == id).count();
                let expected = usize::from(revived.contains(&id) || !passed.contains(&id));
                assert_eq!(times, expected, "id {id}, passed {passed:?}, rest {rest:?}");
            }
        }
    }

    #[test]
    fn members_added_during_a_round_are_visited_in_it_at_random_places() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut positions = Vec::new();
        for _ in 0..200 {
            let mut order = ProbeOrder::default();
            order.start_round(10, &mut rng);
            let mut seen: Vec<Id> = (0..3).filter_map(|_| order.next(&mut rng)).collect();
            order.add(10);
            seen.extend(round(&mut order, &mut rng));
            seen.sort_unstable();
            assert_eq!(seen, (0..11).collect::<Vec<_>>());
            let mut order2 = ProbeOrder::default();
            order2.start_round(10, &mut rng);
            order2.add(10);
            let pos = round(&mut order2, &mut rng).iter().position(|&id| id == 10);
            positions.push(pos.expect("visited"));
        }
        // Uniform over 11 places: both halves of the round get some.
        assert!(positions.iter().any(|&p| p < 3) && positions.iter().any(|&p| p > 7));
    }

    /// A member that crashes is, on average, reached halfway through the
    /// round: its place in each round's order is uniform.
    #[test]
    fn every_id_is_equally_likely_at_every_place() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 8;
        let mut first_place = [0u32; 8];
        let mut order = ProbeOrder::default();
        for _ in 0..8000 {
            order.start_round(n, &mut rng);
            first_place[order.next(&mut rng).unwrap() as usize] += 1;
        }
        // Expected 1000 each; 5 standard deviations is about 150.
        assert!(first_place.iter().all(|&c| (850..1150).contains(&c)), "{first_place:?}");
    }
}

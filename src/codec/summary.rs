//! The hash a [`Summary`](super::Summary) carries, defined here byte for
//! byte (see [`summary_hash`]) so that every build of rumor, on any Rust
//! release, computes the same value: `std`'s `DefaultHasher` promises no
//! such thing, and two builds that disagree would never find themselves in
//! sync.

use super::DigestEntry;

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x100_0000_01b3;

/// FNV-1a 64 of `bytes`, continuing from `hash` (start with the offset
/// basis).
pub(crate) fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// `FNV_PRIME` to the powers 0 to 8, mod 2⁶⁴.
const PRIME_POWERS: [u64; 9] = {
    let mut p = [1u64; 9];
    let mut i = 1;
    while i < 9 {
        p[i] = p[i - 1].wrapping_mul(FNV_PRIME);
        i += 1;
    }
    p
};

/// [`fnv1a`] of `v`'s 8 little-endian bytes, the same value in fewer
/// steps: a zero byte only multiplies by the prime (`(h ^ 0) · p`), so the
/// run of zero high bytes is one multiplication by a power of it. A term
/// hashes 25 bytes one dependent multiplication after another, and most
/// are such zeros (small incarnations, no log's generation and watermark):
/// 10⁸ terms are a few seconds of the 10,000-node simulated join, when
/// every member takes its first check.
fn fnv1a_u64(mut h: u64, v: u64) -> u64 {
    let significant = 8 - (v.leading_zeros() / 8) as usize;
    let mut rest = v;
    for _ in 0..significant {
        h = (h ^ (rest & 0xff)).wrapping_mul(FNV_PRIME);
        rest >>= 8;
    }
    h.wrapping_mul(PRIME_POWERS[8 - significant])
}

/// MurmurHash3's 64-bit finalizer (`fmix64`): every input bit flips
/// about half the output bits.
///
/// FNV-1a alone mixes its last bytes poorly, and the summary hash adds
/// terms: two members whose terms differ only in the watermark, moving in
/// step (a burst of broadcasts from both), summed to one of 18 values over
/// watermarks 0..2000. A member missing 130 items of each of two logs then
/// held the same hash as its peers, every sync with it ended "in sync",
/// and it waited for the logs to move again.
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// One member's term of the summary hash (see [`summary_hash`]): the
/// fields of its [`DigestEntry`] but the collection horizon, taken
/// apart so a caller need not build the entry.
pub fn summary_term(
    name: &str,
    incarnation: u64,
    state: u8,
    generation: u64,
    watermark: u64,
) -> u64 {
    summary_term_after(summary_name_prefix(name), incarnation, state, generation, watermark)
}

/// The part of a [`summary_term`] that depends on the name alone: FNV-1a
/// 64 over `len(name) as u32 LE | name`. Worked out once per name and kept
/// (the engine keeps it with each interned name), a term costs the 25
/// bytes after it: a table walk for the summary hash hashes n terms (10⁸
/// in the 10,000 walks of a 10,000-member cluster).
pub fn summary_name_prefix(name: &str) -> u64 {
    let name = name.as_bytes();
    fnv1a(fnv1a(FNV_OFFSET, &(name.len() as u32).to_le_bytes()), name)
}

/// [`summary_term`] given the name's [`summary_name_prefix`].
pub fn summary_term_after(
    prefix: u64,
    incarnation: u64,
    state: u8,
    generation: u64,
    watermark: u64,
) -> u64 {
    let mut h = fnv1a_u64(prefix, incarnation);
    h = (h ^ u64::from(state)).wrapping_mul(FNV_PRIME);
    h = fnv1a_u64(h, generation);
    fmix64(fnv1a_u64(h, watermark))
}

/// The summary hash of a digest: the wrapping sum, over every member it
/// lists, of that member's term, MurmurHash3's `fmix64` of FNV-1a 64
/// (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over
///
/// ```text
/// len(name) as u32 LE | name (UTF-8) | incarnation as u64 LE
///   | state rank as u8 | generation as u64 LE | watermark as u64 LE
/// ```
///
/// A sum, so the order the members are visited in does not matter. The
/// collection horizon is left out: it does not say what a member holds.
pub fn summary_hash<'a>(entries: impl IntoIterator<Item = &'a DigestEntry>) -> u64 {
    entries.into_iter().fold(0, |sum, e| {
        sum.wrapping_add(summary_term(&e.name, e.incarnation, e.state, e.generation, e.watermark))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn entry(
        name: &str,
        incarnation: u64,
        state: u8,
        generation: u64,
        watermark: u64,
    ) -> DigestEntry {
        DigestEntry {
            name: String::from(name),
            incarnation,
            state,
            generation,
            watermark,
            collected: 0,
        }
    }

    /// The published FNV-1a 64 test vectors.
    #[test]
    fn fnv1a_matches_its_definition() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// The short cut over zero bytes changes nothing.
    #[test]
    fn fnv1a_of_a_u64_is_fnv1a_of_its_bytes() {
        let mut values =
            alloc::vec![0, 1, 0xff, 0x100, 0x1234, u64::MAX, 1 << 63, 0x00ff_0000_0000_0001];
        values.extend((0..64).map(|i| 1u64 << i));
        values.extend((0..64).map(|i| (1u64 << i) - 1));
        for v in values {
            for h in [FNV_OFFSET, 0, 0x1234_5678_9abc_def0] {
                assert_eq!(fnv1a_u64(h, v), fnv1a(h, &v.to_le_bytes()), "{v:#x} from {h:#x}");
            }
        }
    }

    /// Pins the byte layout: a change here breaks every mixed-version
    /// cluster's quiet syncs.
    #[test]
    fn summary_hash_test_vector() {
        let a = entry("n1", 3, 1, 7, 42);
        let b = entry("n2", 0, 0, 0, 0);
        assert_eq!(summary_hash([&a]), SUMMARY_TERM_N1);
        let prefix = summary_name_prefix("n1");
        assert_eq!(summary_term_after(prefix, 3, 1, 7, 42), SUMMARY_TERM_N1, "from the prefix");
        assert_eq!(summary_hash([&a, &b]), summary_hash([&b, &a]), "order-independent");
        assert_eq!(summary_hash([&a, &b]), SUMMARY_TERM_N1.wrapping_add(summary_hash([&b])));
        let collected = DigestEntry { collected: 9, ..a.clone() };
        assert_eq!(summary_hash([&collected]), summary_hash([&a]), "the horizon is left out");
    }

    /// Logs moving in step change the hash at every step: the sum of two
    /// members' terms differing only in their watermark takes a distinct
    /// value for each watermark (before `fmix64`, 18 values for 2,000).
    #[test]
    fn logs_moving_in_step_change_the_hash() {
        let mut seen = alloc::collections::BTreeSet::new();
        for w in 0..2000 {
            seen.insert(summary_hash([&entry("n1", 0, 0, 1, w), &entry("n2", 0, 0, 1, w)]));
        }
        assert_eq!(seen.len(), 2000);
    }

    /// `fmix64` of FNV-1a 64 (0x6da7c867827c4659) of
    /// 02 00 00 00 "n1" 03 00.. 01 07 00.. 2a 00.., computed independently of
    /// this code.
    const SUMMARY_TERM_N1: u64 = 0x7621_67d9_891e_d393;
}

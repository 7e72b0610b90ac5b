//! Mass joins in the simulator: thousands of members joining through one
//! seed at the same instant converge, with the seed's work bounded (it
//! refuses what it cannot serve now, and the joiners back off and try the
//! members it names) and no false failure on the way. Deterministic by seed.

mod script;

use rumor::codec::MessageKind;
use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use script::{count, secs};

/// 2,000 members all join through n0 at t = 0. Every one of them must be
/// seen alive by every other, none suspect, within 30 virtual seconds, and
/// nobody may report a failure or give up joining. The seed serves a
/// bounded share of the burst itself: most joiners are refused (a Busy
/// naming other members) and join through the members named. The view
/// spreads in bulk along the join links, whose pulls stop once it is over.
#[test]
fn mass_join_of_2000_through_one_seed_converges_with_no_false_failure() {
    const N: usize = 2000;
    let mut sim = Simulation::new(Config::lan(), N, 7).expect("config");
    sim.join_all(0);
    let converged = sim.run_until_cond(secs(30.0), secs(0.5), Simulation::converged);
    let at = converged.unwrap_or_else(|| {
        let behind =
            (0..N as u32).filter(|&i| sim.engine(i).unwrap().count(MemberState::Alive) < N).count();
        panic!("not converged after 30 virtual s: {behind} nodes see fewer than {N} alive")
    });
    for i in 0..N as u32 {
        let e = sim.engine(i).unwrap();
        assert_eq!(e.count(MemberState::Alive), N, "n{i} at {at:?}");
        assert_eq!(e.count(MemberState::Suspect), 0, "n{i} at {at:?}");
    }
    assert_eq!(count(&sim, RecordKind::Failed), 0, "false failures");
    assert_eq!(count(&sim, RecordKind::JoinFailed), 0, "joins given up");
    assert_eq!(count(&sim, RecordKind::JoinSucceeded), N - 1);
    let seed = sim.engine_stats(0);
    // The seed served a bounded share and refused the rest, out loud.
    assert!(seed.meets_refused > 0, "the seed refused nothing: {seed:?}");
    let refused: u64 = (0..N as u32).map(|i| sim.engine_stats(i).joins_refused).sum();
    assert!(refused >= seed.meets_refused / 2, "refusals unheard: {refused}");
    // The view spread in bulk along the join links, not claim by claim:
    // gossip alone had every member pass on every joiner
    // `retransmit_limit` times, about 18 × N² Alive claims handled (71 M).
    // Nor do linked members fill their datagrams with the max(3, n/10)
    // member sample, old news to nearly every receiver: with it, 1.8 × N²
    // (7.3 M); without, 1.2 × N².
    let alive: u64 = (0..N as u32)
        .map(|i| sim.engine_stats(i).messages_received[MessageKind::Alive as usize])
        .sum();
    assert!(alive <= 3 * (N * N) as u64 / 2, "{alive} Alive claims handled for {N} joins");
    // The links die once the burst is over: an idle member pulls nothing.
    let sent = |sim: &Simulation, kind: MessageKind| -> u64 {
        (0..N as u32).map(|i| sim.engine_stats(i).messages_sent[kind as usize]).sum()
    };
    let digests_at_convergence = sent(&sim, MessageKind::Digest);
    sim.run_for(secs(3.0));
    let before = sent(&sim, MessageKind::Pull);
    sim.run_for(secs(0.5));
    assert_eq!(
        sent(&sim, MessageKind::Pull),
        before,
        "join links still pulling 3 s after convergence"
    );
    // Once converged, the views agree: the quiet checks that start as the
    // links die find equal hashes and start no sync. A sync sends a digest
    // of the whole view each way (about N / 70 Digest messages each), so
    // this allows a few. A check kept from before the view arrived in bulk
    // (nothing dropped it) made every peer walk its table and sync for
    // nothing: 4,278 Digest messages here, 846,000 at 10,000 members.
    let digests = sent(&sim, MessageKind::Digest) - digests_at_convergence;
    assert!(digests <= N as u64 / 10, "{digests} Digest messages sent after convergence");
    eprintln!(
        "converged at {at:?}; seed refused {} and dropped {} Meets; {alive} Alive claims handled; {digests} Digest messages after",
        seed.meets_refused, seed.meets_dropped
    );
}

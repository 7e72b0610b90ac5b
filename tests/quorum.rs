//! The quorum failure detector (Redis Cluster style) in the simulator:
//! deterministic by seed, no sockets, no sleeps.

mod script;

use rumor::proto::{Config, FailureDetector, FailureReason, MemberState};
use rumor::sim::{Link, RecordKind, Simulation};
use script::{failure_reasons, play, records, secs, Check, Op};
use std::collections::BTreeSet;

fn quorum(node_timeout: f64) -> Config {
    Config {
        failure_detector: FailureDetector::Quorum,
        node_timeout: secs(node_timeout),
        ..Config::lan()
    }
}

/// A converged cluster of 16 running the quorum detector.
fn converged(seed: u64) -> Simulation {
    play(quorum(1.0), 16, seed, &[Op::JoinAll(0), Op::WaitUntil(Check::Converged, 10.0)]).sim
}

#[test]
fn a_crashed_member_is_failed_everywhere_within_two_node_timeouts() {
    for seed in 1..=5 {
        let p = play(
            quorum(1.0),
            16,
            seed,
            &[
                Op::JoinAll(0),
                Op::WaitUntil(Check::Converged, 10.0),
                Op::Run(5.0),
                Op::Kill(7),
                Op::WaitUntil(Check::AllSee(7, MemberState::Dead), 30.0),
                Op::Run(30.0),
                Op::Assert(Check::NoFalseFailures),
            ],
        );
        // Unanswered for node_timeout after the first ping that went
        // unanswered (at most node_timeout / 2 after the crash), then one
        // round of reports and the direct Fail.
        assert!(p.waits[1] < secs(2.0), "seed {seed}: took {:?}", p.waits[1]);
        let failed = records(&p.sim, RecordKind::Failed, 7);
        let observers: BTreeSet<u32> = failed.iter().map(|&(_, n)| n).collect();
        assert_eq!(failed.len(), 15, "seed {seed}: one report per survivor: {failed:?}");
        assert_eq!(observers.len(), 15);
        let stats: u64 = (0..16).map(|i| p.sim.engine_stats(i).failures_declared).sum();
        assert!(stats >= 1, "someone declared it");
        let reports: u64 = (0..16).map(|i| p.sim.engine_stats(i).failure_reports).sum();
        assert!(reports >= 8, "a majority reported it: {reports} reports");
        let reasons = failure_reasons(&p.sim, 7);
        assert!(
            reasons.iter().all(|&(_, r)| r == Some(FailureReason::Quorum)),
            "seed {seed}: every survivor saw a quorum verdict: {reasons:?}"
        );
    }
}

#[test]
fn a_long_node_timeout_waits_that_long() {
    let p = play(
        quorum(15.0),
        16,
        2,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Run(20.0),
            Op::Kill(3),
            Op::WaitUntil(Check::AllSee(3, MemberState::Dead), 60.0),
            Op::Assert(Check::NoFalseFailures),
        ],
    );
    assert!(p.waits[1] > secs(15.0), "failed after {:?}, before node_timeout", p.waits[1]);
    assert!(p.waits[1] < secs(25.0), "took {:?}", p.waits[1]);
}

#[test]
fn a_minority_that_cannot_reach_a_member_never_fails_it() {
    let mut sim = converged(4);
    sim.run_for(secs(3.0));
    let cut = Link { loss: 1.0, ..Link::default() };
    for j in [1, 2, 3, 4, 5, 6, 8] {
        sim.network.set_link(7, j, cut);
        sim.network.set_link(j, 7, cut);
    }
    let start = sim.now();
    sim.run_for(secs(60.0));
    let suspected: BTreeSet<u32> = records(&sim, RecordKind::Suspected, 7)
        .into_iter()
        .filter(|&(t, _)| t >= start)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(suspected, BTreeSet::from([1, 2, 3, 4, 5, 6, 8]), "the cut-off side marks it");
    assert!(records(&sim, RecordKind::Failed, 7).is_empty(), "7 of 16 are not a majority");
    for i in [0, 9, 15] {
        assert_eq!(sim.state(i, 7), Some(MemberState::Alive), "node {i} reaches it");
    }
    // Two more members losing it make 9: a majority of the 16 (Redis
    // counts the accused too).
    for j in [9, 10] {
        sim.network.set_link(7, j, cut);
        sim.network.set_link(j, 7, cut);
    }
    let t = sim.run_until_cond(secs(10.0), secs(0.01), |s| s.all_see(7, MemberState::Dead));
    assert!(t.is_some(), "9 of 16 are a majority: all hear it failed");
}

/// Node 7 of 16 paused past `node_timeout`: failed by everyone, then alive
/// again everywhere once it resumes and refutes.
fn failed_while_paused_then_back() -> script::Played {
    play(
        quorum(1.0),
        16,
        5,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Run(5.0),
            Op::Pause(7, 2.5),
            Op::WaitUntil(Check::AllSee(7, MemberState::Dead), 10.0),
            Op::WaitUntil(Check::AllSee(7, MemberState::Alive), 30.0),
        ],
    )
}

#[test]
fn a_member_failed_while_paused_comes_back_after_the_undo_time() {
    let p = failed_while_paused_then_back();
    let failed = records(&p.sim, RecordKind::Failed, 7);
    assert_eq!(failed.len(), 15);
    let first = failed.iter().map(|&(t, _)| t).min().unwrap();
    let back: Vec<_> =
        records(&p.sim, RecordKind::Joined, 7).into_iter().filter(|&(t, _)| t > first).collect();
    assert_eq!(back.len(), 15, "everyone takes it back: {back:?}");
    for &(t, observer) in &back {
        let (f, _) = failed.iter().find(|&&(_, o)| o == observer).expect("failed first");
        assert!(t >= *f + secs(2.0), "node {observer}: back at {t:?}, failed at {f:?}");
    }
    assert!(p.sim.engine_stats(7).refutations >= 1, "it heard and refuted");
    // Nothing flaps afterwards.
    let mut sim = p.sim;
    let settled = sim.now();
    sim.run_for(secs(30.0));
    let later = records(&sim, RecordKind::Failed, 7).into_iter().filter(|&(t, _)| t > settled);
    assert_eq!(later.count(), 0);
}

/// A member's own failing mark is local: peers never adopt it, so it must
/// not make anti-entropy digests differ for good.
#[test]
fn a_local_failing_mark_does_not_keep_anti_entropy_busy() {
    let mut sim = converged(6);
    let cut = Link { loss: 1.0, ..Link::default() };
    sim.network.set_link(3, 7, cut);
    sim.network.set_link(7, 3, cut);
    sim.run_for(secs(30.0));
    assert_eq!(sim.state(3, 7), Some(MemberState::Suspect), "3 cannot reach 7");
    let totals = |sim: &Simulation| {
        (0..16)
            .map(|i| sim.engine_stats(i))
            .fold((0, 0), |(a, b), s| (a + s.syncs, b + s.syncs_in_sync))
    };
    let (syncs, in_sync) = totals(&sim);
    sim.run_for(secs(120.0));
    let (syncs2, in_sync2) = totals(&sim);
    assert!(syncs2 - syncs >= 40, "syncs ran: {}", syncs2 - syncs);
    assert_eq!(in_sync2 - in_sync, syncs2 - syncs, "every sync found the digests equal");
    assert!(records(&sim, RecordKind::Failed, 7).is_empty());
}

/// News from a member we cannot reach (here, new metadata) does not clear
/// our failing mark: only an answer to our pings does.
#[test]
fn news_about_an_unreachable_member_does_not_flap_its_mark() {
    let mut sim = converged(8);
    let cut = Link { loss: 1.0, ..Link::default() };
    sim.network.set_link(3, 7, cut);
    sim.network.set_link(7, 3, cut);
    sim.run_for(secs(5.0));
    assert_eq!(sim.state(3, 7), Some(MemberState::Suspect));
    let since = sim.now();
    sim.set_meta(7, b"v2".to_vec()).unwrap();
    sim.run_for(secs(10.0));
    let meta = sim.engine(3).unwrap().member("n7").unwrap().meta.clone();
    assert_eq!(meta, b"v2".to_vec(), "the news reached it");
    let flaps = sim
        .log()
        .iter()
        .filter(|r| r.node == 3 && r.subject == 7 && r.time > since)
        .map(|r| r.kind)
        .collect::<Vec<_>>();
    assert_eq!(flaps, vec![], "no alive/suspect flapping");
    assert_eq!(sim.state(3, 7), Some(MemberState::Suspect));
}

/// Lifeguard's local health under the quorum detector: a refutation
/// raises it (being accused hints that we are the slow one), and answered
/// pings must lower it again, as acked probes do under SWIM. Otherwise one
/// refutation would leave the member's health multiplier above 1 for good,
/// and with it eager pushes of membership news off for good.
#[test]
fn health_raised_by_a_refutation_recovers_as_pings_are_answered() {
    let p = failed_while_paused_then_back();
    let mut sim = p.sim;
    assert!(sim.engine_stats(7).refutations >= 1, "it heard and refuted");
    let healthy = sim.run_until_cond(secs(30.0), secs(0.1), |s| {
        s.engine(7).is_some_and(|e| e.health_multiplier() == 1 && e.gauges().health_multiplier == 1)
    });
    assert!(
        healthy.is_some(),
        "health multiplier still {} 30 s after the refutation",
        sim.engine(7).unwrap().health_multiplier()
    );
}

//! Membership and failure detection scenarios in the simulator:
//! deterministic by seed, no sockets, no sleeps.

mod script;

use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use script::{count, play, records, secs, Check, Op};
use std::collections::BTreeSet;

#[test]
fn simultaneous_join_of_32_through_one_seed_converges_in_a_few_rounds() {
    for seed in 1..=5 {
        let p =
            play(Config::lan(), 32, seed, &[Op::JoinAll(0), Op::WaitUntil(Check::Converged, 30.0)]);
        // LAN gossip rounds are 200 ms: "a few rounds", far from a 30 s full sync.
        assert!(p.waits[0] <= secs(2.0), "seed {seed}: converged only after {:?}", p.waits[0]);
    }
}

/// Every member joins through one seed at the same instant, as a benchmark
/// or a fleet restart does. News of each joiner is pushed the moment it
/// arrives, so the median cluster converges within a few round trips; the
/// extra sync after a join closes the gaps gossip leaves in such a burst, so
/// no run waits for a push-pull interval (30 s) to converge.
#[test]
fn simultaneous_join_of_64_converges_in_round_trips_and_never_waits_for_a_full_sync() {
    let mut waits: Vec<_> = (1..=20)
        .map(|seed| {
            play(Config::lan(), 64, seed, &[Op::JoinAll(0), Op::WaitUntil(Check::Converged, 30.0)])
                .waits[0]
        })
        .collect();
    waits.sort();
    assert!(waits[10] <= secs(0.1), "median {:?}", waits[10]);
    assert!(waits[19] <= secs(0.6), "worst {:?}", waits[19]);
}

#[test]
fn simultaneous_join_of_100_converges_under_loss() {
    let p = play(
        Config::lan(),
        100,
        11,
        &[Op::Loss(0.05), Op::JoinAll(0), Op::WaitUntil(Check::Converged, 30.0)],
    );
    assert!(p.waits[0] <= secs(5.0), "converged at {:?}", p.waits[0]);
}

#[test]
fn simultaneous_join_of_1000_converges() {
    let p = play(
        Config::lan(),
        1000,
        12,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 60.0),
            Op::Assert(Check::NoFalseFailures),
        ],
    );
    assert!(p.waits[0] <= secs(10.0), "converged at {:?}", p.waits[0]);
}

#[test]
fn crashed_member_is_declared_dead_by_every_survivor_exactly_once() {
    let p = play(
        Config::lan(),
        32,
        3,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Run(5.0),
            Op::Kill(7),
            Op::WaitUntil(Check::AllSee(7, MemberState::Dead), 60.0),
            Op::Run(60.0),
            Op::Assert(Check::NoFalseFailures),
        ],
    );
    // Detection within a probe round plus the suspicion timeout
    // (4 * log10(32) * 1 s = 6 s).
    assert!(p.waits[1] < secs(40.0), "took {:?}", p.waits[1]);
    let reports: Vec<u32> =
        records(&p.sim, RecordKind::Failed, 7).into_iter().map(|(_, n)| n).collect();
    let observers: BTreeSet<u32> = reports.iter().copied().collect();
    assert_eq!(reports.len(), 31, "one report per survivor");
    assert_eq!(observers.len(), 31);
}

#[test]
fn no_false_failures_under_five_percent_loss() {
    let p = play(
        Config::lan(),
        16,
        5,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Loss(0.05),
            Op::Run(300.0),
            Op::Assert(Check::NoFalseFailures),
            Op::Assert(Check::Converged),
        ],
    );
    assert!(p.sim.log().iter().all(|r| r.kind != RecordKind::Failed));
}

#[test]
fn no_false_failures_over_ten_virtual_minutes_without_loss_or_pauses() {
    let p = play(
        Config::lan(),
        200,
        14,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 30.0),
            Op::Run(600.0),
            Op::Assert(Check::Converged),
        ],
    );
    let failures = count(&p.sim, RecordKind::Failed);
    let suspicions = count(&p.sim, RecordKind::Suspected);
    assert_eq!((failures, suspicions), (0, 0));
}

#[test]
fn leaving_member_is_reported_left_never_failed() {
    let p = play(
        Config::lan(),
        8,
        9,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Leave(3),
            Op::WaitUntil(Check::AllSee(3, MemberState::Left), 10.0),
            // Its last retransmissions may still be due.
            Op::Run(5.0),
            Op::Kill(3),
            Op::Run(60.0),
        ],
    );
    let log = p.sim.log();
    assert!(log.iter().any(|r| r.node == 3 && r.kind == RecordKind::LeaveDone));
    assert!(log.iter().all(|r| r.kind != RecordKind::Failed), "a departure is not a failure");
    assert_eq!(records(&p.sim, RecordKind::Left, 3).len(), 7);
}

#[test]
fn restarted_member_is_alive_again_everywhere_with_higher_incarnation() {
    let mut p = play(
        Config::lan(),
        8,
        13,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Kill(5),
            Op::WaitUntil(Check::AllSee(5, MemberState::Dead), 60.0),
        ],
    );
    let old = p.sim.engine(0).unwrap().member("n5").unwrap().incarnation;
    p.sim.restart(5);
    p.sim.run_until_cond(secs(10.0), secs(0.01), Simulation::converged).expect("alive again");
    // It may refute more than once (each stale claim it hears): wait until
    // every member holds the incarnation it announces.
    let same = |s: &Simulation| {
        let now = s.engine(5).unwrap().local_member().incarnation;
        (0..8).all(|i| s.engine(i).unwrap().member("n5").unwrap().incarnation == now)
    };
    p.sim.run_until_cond(secs(10.0), secs(0.01), same).expect("one incarnation everywhere");
    let now = p.sim.engine(5).unwrap().local_member().incarnation;
    assert!(now > old, "incarnation {now} > {old}");
}

#[test]
fn member_cut_off_then_reconnected_is_alive_again_without_help() {
    // n2 is cut off long enough to be declared dead (and to declare everyone
    // else dead); once the link is back, reconnects and refutation heal the
    // cluster with no join from the user.
    let p = play(
        Config::lan(),
        6,
        21,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Partition(vec![vec![2]]),
            Op::WaitUntil(Check::AllSee(2, MemberState::Dead), 60.0),
            Op::Run(30.0),
            Op::Heal,
            Op::WaitUntil(Check::Converged, 120.0),
        ],
    );
    // Reconnect tries one dead member every 30 s (lan).
    assert!(p.waits[2] <= secs(65.0), "took {:?}", p.waits[2]);
    let reconnects: u64 = (0..6).map(|i| p.sim.engine(i).unwrap().stats().reconnects).sum();
    assert!(reconnects > 0);
}

#[test]
fn half_and_half_partition_heals() {
    let left: Vec<u32> = (0..10).collect();
    let p = play(
        Config::lan(),
        20,
        23,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Partition(vec![left]),
            Op::Run(60.0),
            Op::Heal,
            Op::WaitUntil(Check::Converged, 180.0),
        ],
    );
    let sim = &p.sim;
    // Each half had declared the other dead before the heal.
    let cross = sim
        .log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && (r.node < 10) != (r.subject < 10))
        .count();
    assert!(cross >= 100, "each half declared the other dead ({cross} reports)");
    assert!(p.waits[1] <= secs(65.0), "took {:?}", p.waits[1]);
}

#[test]
fn first_detection_is_close_to_swims_expected_e_over_e_minus_1_periods() {
    // Time from a crash to the first probe of the crashed member, in probe
    // periods, over many seeds. The suspicion is raised exactly one probe
    // interval after that probe was sent.
    let period = Config::lan().probe_interval;
    let mut total = 0.0;
    let runs = 60;
    for seed in 0..runs {
        let mut p = play(
            Config::lan(),
            16,
            1000 + seed,
            &[
                Op::JoinAll(0),
                Op::WaitUntil(Check::Converged, 10.0),
                Op::Run(3.0 + seed as f64 * 0.013),
            ],
        );
        let killed_at = p.sim.now();
        // A silent crash (the host): a killed process's closed port would
        // be evidence, dead at the first probe with no suspicion.
        p.sim.crash_host(9);
        let found = p.sim.run_until_cond(secs(60.0), secs(0.01), |s| {
            s.log()
                .iter()
                .any(|r| r.kind == RecordKind::Suspected && r.subject == 9 && r.time >= killed_at)
        });
        let first = found.unwrap_or_else(|| panic!("seed {seed}: n9 never suspected"));
        // A probe sent just before the crash may be the one that finds it.
        let probe = first.saturating_sub(period).saturating_sub(killed_at);
        total += probe.as_secs_f64() / period.as_secs_f64();
    }
    let mean = total / runs as f64;
    let expected = std::f64::consts::E / (std::f64::consts::E - 1.0);
    // Round-robin probing by n - 1 members expects about (n - 1) / n of a
    // period, better than SWIM's random choice.
    assert!(mean > 0.5 && mean < expected, "mean {mean:.3} periods vs {expected:.3}");
}

#[test]
fn a_dead_member_is_reaped_and_its_return_is_a_fresh_join() {
    let config = Config {
        reap_timeout: secs(60.0),
        // The reaper runs with collection, every quarter of the grace.
        state_gc_grace: secs(20.0),
        ..Config::lan()
    };
    let mut sim = Simulation::new_joined(config, 6, 21).unwrap();
    sim.kill(4);
    sim.run_until_cond(secs(60.0), secs(0.1), |s| s.all_see(4, MemberState::Dead))
        .expect("declared dead");
    assert!((0..6).filter(|&i| i != 4).all(|i| sim.engine(i).unwrap().members().count() == 6));
    sim.run_until_cond(secs(120.0), secs(1.0), |s| {
        (0..6).filter(|&i| i != 4).all(|i| s.state(i, 4).is_none())
    })
    .expect("reaped everywhere");
    for i in (0..6).filter(|&i| i != 4) {
        let e = sim.engine(i).unwrap();
        assert_eq!(e.members().count(), 5, "no longer listed");
        assert_eq!(e.count(MemberState::Dead), 0);
        assert_eq!(e.stats().reaped, 1);
    }
    let joins_before = count(&sim, RecordKind::Joined);
    let back = sim.now();
    sim.restart(4);
    sim.run_until_cond(secs(30.0), secs(0.1), Simulation::converged).expect("back");
    sim.run_for(secs(30.0));
    let flaps = records(&sim, RecordKind::Failed, 4).into_iter().filter(|&(t, _)| t > back).count();
    assert_eq!(flaps, 0, "no stale death claim about its earlier life goes out");
    let joins = records(&sim, RecordKind::Joined, 4).len();
    assert!(joins >= 5, "every other member reports a join: {joins}");
    assert!(count(&sim, RecordKind::Joined) > joins_before);
}

/// Issue 15 item 1: a member that left and joins again is a member again
/// everywhere, at a higher incarnation, reported as a join; it hears the
/// others' broadcasts again; and it can leave a second time.
#[test]
fn a_member_that_left_and_joins_again_is_alive_everywhere_with_a_higher_incarnation() {
    let p = play(
        Config::lan(),
        6,
        31,
        &[
            Op::JoinAll(0),
            Op::WaitUntil(Check::Converged, 10.0),
            Op::Leave(3),
            Op::WaitUntil(Check::AllSee(3, MemberState::Left), 10.0),
            Op::Run(5.0),
        ],
    );
    assert_eq!(records(&p.sim, RecordKind::LeaveDone, 3).len(), 1, "the first leave is done");
    let left = p.sim.engine(0).unwrap().member("n3").unwrap().incarnation;
    let back = p.sim.now();
    let mut p = p.then(&[Op::Join(3, vec![0]), Op::WaitUntil(Check::Converged, 10.0)]);
    let same = |s: &Simulation| {
        let now = s.engine(3).unwrap().local_member().incarnation;
        (0..6).all(|i| s.engine(i).unwrap().member("n3").unwrap().incarnation == now)
    };
    p.sim.run_until_cond(secs(10.0), secs(0.01), same).expect("one incarnation everywhere");
    let now = p.sim.engine(3).unwrap().local_member().incarnation;
    assert!(now > left, "incarnation {now} > {left}");
    assert!(!p.sim.engine(3).unwrap().is_leaving());
    let joined: BTreeSet<u32> = records(&p.sim, RecordKind::Joined, 3)
        .into_iter()
        .filter(|&(t, _)| t >= back)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(joined, BTreeSet::from([0, 1, 2, 4, 5]), "every other member reports the rejoin");
    // A broadcast from another member reaches it again.
    let p = p.then(&[
        Op::Broadcast(1, b"after the rejoin".to_vec()),
        Op::WaitUntil(Check::EveryRumorEverywhere, 10.0),
        // And it can leave again: a second LeaveDone, Left everywhere.
        Op::Leave(3),
        Op::WaitUntil(Check::AllSee(3, MemberState::Left), 10.0),
        Op::Run(5.0),
    ]);
    assert_eq!(records(&p.sim, RecordKind::LeaveDone, 3).len(), 2, "the second leave is done");
    assert!(p.sim.log().iter().all(|r| r.kind != RecordKind::Failed), "no failure on the way");
}

/// Every member restarts at once, the seed last (memberlist#222): the
/// others' joins at start go to a seed that is down and fail, and without
/// rejoins the cluster would stay split for good. With
/// `rejoin_interval` each member left alone joins its seed again, so the
/// cluster heals with nobody calling `join`.
#[test]
fn cluster_whose_members_all_restarted_heals_by_rejoining_its_seeds() {
    let n = 8;
    for (rejoin, heals) in [(secs(10.0), true), (secs(0.0), false)] {
        let config = Config { rejoin_interval: rejoin, ..Config::lan() };
        let mut sim = Simulation::new(config, n, 3).unwrap();
        sim.join_all(0);
        sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
        for i in 0..n as u32 {
            sim.kill(i);
        }
        for i in 1..n as u32 {
            sim.restart_through(i, &[0]); // node 0 is down
        }
        sim.run_for(secs(11.0)); // those joins give up after 10 s
        assert_eq!(count(&sim, RecordKind::JoinFailed), n - 1);
        sim.restart_through(0, &[]);
        let back = sim.now();
        let healed = sim.run_until_cond(secs(60.0), secs(0.1), Simulation::converged);
        let healed = healed.map(|t| t - back);
        assert_eq!(healed.is_some(), heals, "rejoin_interval {rejoin:?}");
        let rejoins: u64 = (0..n as u32).map(|i| sim.engine_stats(i).rejoins).sum();
        if heals {
            // Within a rejoin interval of the seed's return, plus a join.
            assert!(healed.unwrap() <= secs(12.0), "healed after {healed:?}");
            assert!(rejoins >= n as u64 - 2, "{rejoins} rejoins");
        } else {
            assert_eq!(rejoins, 0);
        }
    }
}

/// A member cut off from the rest for longer than reconnects cover (here
/// reconnects are off) holds everyone dead, and everyone holds it dead.
/// Alone, it rejoins its seed every `rejoin_interval`; once the partition
/// heals the next rejoin brings it back, both sides refuting the deaths
/// they are held at. Without rejoins the split stays.
#[test]
fn member_alone_after_a_long_partition_rejoins_once_it_heals() {
    for (rejoin, heals) in [(secs(5.0), true), (secs(0.0), false)] {
        let config =
            Config { rejoin_interval: rejoin, reconnect_interval: secs(0.0), ..Config::lan() };
        let mut sim = Simulation::new(config, 4, 5).unwrap();
        sim.join_all(0);
        sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
        sim.network.partition(&[vec![0, 1, 2]], false);
        sim.run_for(secs(60.0));
        assert_eq!(sim.count_seeing(3, MemberState::Dead), 3, "the others hold it dead");
        sim.network.heal();
        let back = sim.now();
        let healed = sim.run_until_cond(secs(60.0), secs(0.1), Simulation::converged);
        assert_eq!(healed.is_some(), heals, "rejoin_interval {rejoin:?}");
        if let Some(t) = healed {
            assert!(t - back <= secs(7.0), "healed after {:?}", t - back);
            assert!(sim.engine_stats(3).rejoins >= 1);
        }
    }
}

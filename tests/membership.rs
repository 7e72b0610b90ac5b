//! Membership and failure detection scenarios on a virtual network:
//! deterministic by seed, no sockets, no sleeps.

mod vnet;

use rumor::proto::{Config, Event, MemberState};
use std::collections::BTreeSet;
use vnet::{secs, Net};

#[test]
fn simultaneous_join_of_32_through_one_seed_converges_in_a_few_rounds() {
    for seed in 1..=5 {
        let mut net = Net::new(Config::lan(), 32, seed);
        net.join_all(0);
        let t = net.run_until_cond(secs(30.0), Net::converged);
        let t = t.unwrap_or_else(|| panic!("seed {seed}: 32 nodes did not converge in 30 s"));
        // LAN gossip rounds are 200 ms: "a few rounds", far from a 30 s full sync.
        assert!(t <= secs(2.0), "seed {seed}: converged only after {t:?}");
    }
}

#[test]
fn simultaneous_join_of_100_converges_under_loss() {
    let mut net = Net::new(Config::lan(), 100, 11);
    net.loss = 0.05;
    net.join_all(0);
    let t = net.run_until_cond(secs(30.0), Net::converged);
    assert!(t.is_some_and(|t| t <= secs(5.0)), "converged at {t:?}");
}

#[test]
fn crashed_member_is_declared_dead_by_every_survivor() {
    let mut net = Net::new(Config::lan(), 32, 3);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    net.run_until(net.now + secs(5.0));
    let killed_at = net.now;
    net.kill(7);
    let t = net
        .run_until_cond(secs(60.0), |n| n.all_see(7, MemberState::Dead))
        .expect("every survivor marks n7 dead");
    // Detection within a probe round plus the suspicion timeout
    // (4 * log10(32) * 1 s = 6 s): well under 32 probe intervals.
    assert!(t - killed_at < secs(40.0), "took {:?}", t - killed_at);
    assert_eq!(net.failed_names(), BTreeSet::from(["n7".to_string()]), "no false failures");
    // Each survivor reports the failure once.
    let reports = net.failures_of("n7");
    let observers: BTreeSet<&String> = reports.iter().map(|(_, w)| w).collect();
    assert_eq!(reports.len(), 31);
    assert_eq!(observers.len(), 31);
}

#[test]
fn no_false_failures_under_five_percent_loss() {
    let mut net = Net::new(Config::lan(), 16, 5);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    net.loss = 0.05;
    net.run_until(net.now + secs(300.0));
    assert!(net.failed_names().is_empty(), "false failures: {:?}", net.failed_names());
    assert!(net.converged());
}

#[test]
fn leaving_member_is_reported_left_never_failed() {
    let mut net = Net::new(Config::lan(), 8, 9);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    net.leave(3);
    let done = net.run_until_cond(secs(10.0), |n| n.all_see(3, MemberState::Left));
    assert!(done.is_some(), "every member sees n3 as left");
    assert!(net.trace.iter().any(|(_, who, ev)| who == "n3" && *ev == Event::LeaveDone));
    net.kill(3);
    net.run_until(net.now + secs(60.0));
    assert!(net.failed_names().is_empty(), "a departure is not a failure");
    let lefts = net
        .trace
        .iter()
        .filter(|(_, _, ev)| matches!(ev, Event::Left(m) if m.name == "n3"))
        .count();
    assert_eq!(lefts, 7);
}

#[test]
fn restarted_member_is_alive_again_everywhere_with_higher_incarnation() {
    let mut net = Net::new(Config::lan(), 8, 13);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    net.kill(5);
    net.run_until_cond(secs(60.0), |n| n.all_see(5, MemberState::Dead)).expect("n5 dead");
    let old = net.engine(0).member("n5").unwrap().incarnation;
    net.restart(5, 2);
    let t = net.run_until_cond(secs(10.0), Net::converged);
    assert!(t.is_some(), "n5 alive again everywhere");
    let now = net.engine(5).local_member().incarnation;
    assert!(now > old, "incarnation {now} > {old}");
    for i in 0..8 {
        assert_eq!(net.engine(i).member("n5").unwrap().incarnation, now);
    }
}

#[test]
fn member_cut_off_then_reconnected_is_alive_again_without_help() {
    // n2 is cut off long enough to be declared dead (and to declare everyone
    // else dead); once the link is back, reconnects and refutation heal the
    // cluster with no join from the user.
    let mut net = Net::new(Config::lan(), 6, 21);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    net.partition(&[&[2]]);
    net.run_until_cond(secs(60.0), |n| n.all_see(2, MemberState::Dead)).expect("n2 declared dead");
    net.run_until(net.now + secs(30.0));
    assert!((0..6)
        .filter(|&i| i != 2)
        .all(|i| net.state(2, &net.name(i)) == Some(MemberState::Dead)));
    net.heal();
    let healed_at = net.now;
    let t = net.run_until_cond(secs(120.0), Net::converged);
    let t = t.expect("healed without user action");
    // Reconnect tries one dead member every 30 s (lan).
    assert!(t - healed_at <= secs(65.0), "took {:?}", t - healed_at);
    let reconnects: u64 = (0..6).map(|i| net.engine(i).stats().reconnects).sum();
    assert!(reconnects > 0);
}

#[test]
fn half_and_half_partition_heals() {
    let mut net = Net::new(Config::lan(), 20, 23);
    net.join_all(0);
    net.run_until_cond(secs(10.0), Net::converged).expect("converged");
    let left: Vec<usize> = (0..10).collect();
    net.partition(&[&left]);
    // Each side declares the other dead.
    net.run_until_cond(secs(120.0), |n| {
        (0..10).all(|i| (10..20).all(|j| n.state(i, &n.name(j)) == Some(MemberState::Dead)))
            && (10..20).all(|i| (0..10).all(|j| n.state(i, &n.name(j)) == Some(MemberState::Dead)))
    })
    .expect("each half declares the other dead");
    net.heal();
    let healed_at = net.now;
    let t = net.run_until_cond(secs(180.0), Net::converged).expect("partition healed");
    assert!(t - healed_at <= secs(65.0), "took {:?}", t - healed_at);
}

#[test]
fn same_seed_same_event_trace() {
    let run = |seed| {
        let mut net = Net::new(Config::lan(), 12, seed);
        net.loss = 0.02;
        net.join_all(0);
        net.run_until(secs(20.0));
        net.kill(4);
        net.run_until(secs(60.0));
        format!("{:?}", net.trace)
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

//! The simulator's own guarantees: determinism, pauses, crashes, the
//! network model's effects on real engines.

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn joined(n: usize, seed: u64) -> Simulation {
    let mut sim = Simulation::new(Config::lan(), n, seed).unwrap();
    sim.join_all(0);
    sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
    sim
}

fn script(seed: u64) -> String {
    let mut sim = Simulation::new(Config::lan(), 24, seed).unwrap();
    sim.network.default.loss = 0.05;
    sim.network.default.duplicate = 0.02;
    sim.network.default.reorder = 0.05;
    sim.join_all(0);
    sim.run_for(secs(10.0));
    sim.pause(3, secs(6.0));
    sim.kill(7);
    sim.network.partition(&[vec![0, 1, 2, 3, 4, 5]], false);
    sim.run_for(secs(20.0));
    sim.network.heal();
    sim.restart(7);
    sim.run_for(secs(40.0));
    format!("{:?}\n{:?}", sim.log(), sim.intervals())
}

#[test]
fn same_seed_same_log_byte_for_byte() {
    let a = script(7);
    assert_eq!(a, script(7));
    assert_ne!(a, script(8));
}

#[test]
fn paused_node_neither_sends_nor_receives_then_resumes() {
    let mut sim = joined(5, 1);
    let before = sim.node_stats(2).clone();
    sim.pause(2, secs(3.0));
    assert!(!sim.is_running(2));
    sim.run_for(secs(2.9));
    let during = sim.node_stats(2).clone();
    assert_eq!(during.datagrams_sent, before.datagrams_sent, "a paused node sends nothing");
    assert_eq!(during.datagrams_received, before.datagrams_received);
    assert_eq!(during.datagrams_missed, before.datagrams_missed, "its socket buffer holds them");
    sim.run_for(secs(0.2));
    assert!(sim.is_running(2));
    assert!(sim.log().iter().any(|r| r.kind == RecordKind::Resumed && r.node == 2));
    let after = sim.node_stats(2).clone();
    // Probes from four members for 3 s: at least a dozen datagrams waited.
    assert!(after.datagrams_received >= during.datagrams_received + 12, "{after:?}");
    sim.run_for(secs(2.0));
    assert!(sim.node_stats(2).datagrams_sent > during.datagrams_sent, "it runs again");
}

#[test]
fn a_paused_nodes_full_receive_buffer_loses_the_rest() {
    let mut sim = joined(5, 1);
    sim.set_receive_buffer(0);
    let before = sim.node_stats(2).clone();
    sim.pause(2, secs(3.0));
    sim.run_for(secs(3.0));
    let after = sim.node_stats(2).clone();
    assert!(after.datagrams_missed >= before.datagrams_missed + 12, "{after:?}");
    assert_eq!(after.datagrams_received, before.datagrams_received, "nothing waited for it");
    let missed_pings = after.messages_missed[MessageKind::Ping as usize]
        - before.messages_missed[MessageKind::Ping as usize];
    assert!(missed_pings >= 4, "the probes sent to it are among the missed");
}

/// A stalled node keeps its timers and sends but reads nothing: it probes
/// on, its probes time out (the acks wait unread) and it accuses healthy
/// members. Without Lifeguard its suspicion runs out before it reads the
/// refutations, so it declares healthy members dead, and the whole cluster
/// believes it. With Lifeguard it sees the backlog it cannot read and
/// accuses nobody: nobody healthy is declared dead.
#[test]
fn a_stalled_node_accuses_others_and_only_lifeguard_keeps_them_alive() {
    let outcome = |lifeguard: bool| {
        let config = Config { lifeguard, ..Config::lan() };
        let mut sim = Simulation::new(config, 8, 6).unwrap();
        sim.join_all(0);
        sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
        let before = sim.node_stats(5).clone();
        sim.stall(5, secs(12.0));
        assert!(sim.is_running(5) && sim.is_stalled(5));
        sim.run_for(secs(11.9));
        let during = sim.node_stats(5).clone();
        assert!(during.datagrams_sent > before.datagrams_sent + 10, "it keeps sending");
        assert_eq!(during.datagrams_received, before.datagrams_received, "it reads nothing");
        sim.run_for(secs(30.0));
        assert!(!sim.is_stalled(5));
        assert!(sim.log().iter().any(|r| r.kind == RecordKind::Unstalled && r.node == 5));
        assert!(sim.node_stats(5).datagrams_received > during.datagrams_received + 20);
        let accused = sim.log().iter().any(|r| r.kind == RecordKind::Suspected && r.node == 5);
        // Its probes failed while it read nothing. Plain SWIM accuses;
        // with Lifeguard it knows datagrams wait unread (the backlog its
        // driver reports) and holds its accusations back (load shedding).
        assert_eq!(accused, !lifeguard, "accusations by the stalled node");
        let failed: Vec<u32> = sim
            .log()
            .iter()
            .filter(|r| r.kind == RecordKind::Failed && r.subject != 5)
            .map(|r| r.subject)
            .collect();
        (failed, sim.converged())
    };
    let (plain, plain_converged) = outcome(false);
    assert!(!plain.is_empty(), "plain SWIM: the stalled node's accusations kill healthy members");
    assert!(plain_converged, "and they refute and come back");
    let (lifeguard, _) = outcome(true);
    assert_eq!(lifeguard, Vec::<u32>::new(), "Lifeguard: no healthy member declared dead");
}

/// A node that goes deaf holding a confirmed suspicion does not convict on
/// it: the suspect may have refuted, and the refutation would wait unread.
/// With Lifeguard, a member that heard nothing for a probe interval waits
/// out the lone accuser's full timeout instead of the confirmed one.
#[test]
fn a_deaf_node_does_not_convict_on_confirmations_it_cannot_check() {
    let mut sim = joined(16, 7);
    let (deaf, suspect) = (3, 9);
    let before = sim.engine_stats(deaf).confirmations;
    sim.pause(suspect, secs(8.0));
    // Wait until the deaf-to-be node holds the suspicion, confirmed (for 16
    // members: 13.7 s after one confirmation, 28.9 s for a lone accuser).
    sim.run_until_cond(secs(8.0), secs(0.01), |s| {
        s.engine_stats(deaf).confirmations > before
            && s.state(deaf, suspect) == Some(MemberState::Suspect)
    })
    .expect("confirmed suspicion");
    sim.stall(deaf, secs(20.0));
    sim.run_for(secs(60.0));
    assert!(sim.log().iter().any(|r| r.kind == RecordKind::Refuted && r.node == suspect));
    let by_deaf = sim.engine_stats(deaf);
    assert_eq!(by_deaf.failures_declared, 0, "it convicted on what it could not check");
    assert!(by_deaf.declarations_deferred >= 1, "the rule held it back");
    assert!(sim.converged());
}

#[test]
fn long_pause_is_a_failure_then_the_node_refutes() {
    let mut sim = joined(8, 2);
    sim.pause(4, secs(20.0));
    let t = sim.run_until_cond(secs(20.0), secs(0.05), |s| s.all_see(4, MemberState::Dead));
    assert!(t.is_some(), "a member paused for 20 s is declared dead");
    // Resumed, it learns of its death from the acks to its probes and
    // refutes; everyone sees it alive again.
    sim.run_until_cond(secs(20.0), secs(0.01), |s| s.is_running(4)).expect("resumed");
    assert!(sim.all_see(4, MemberState::Dead));
    let back = sim.run_until_cond(secs(60.0), secs(0.05), Simulation::converged);
    assert!(back.is_some());
    assert!(sim.log().iter().any(|r| r.kind == RecordKind::Refuted && r.node == 4));
}

#[test]
fn killed_node_is_detected_and_restart_brings_it_back() {
    let mut sim = joined(10, 3);
    sim.kill(6);
    assert!(sim.engine(6).is_none());
    sim.run_until_cond(secs(60.0), secs(0.05), |s| s.all_see(6, MemberState::Dead))
        .expect("dead everywhere");
    let old = sim.engine(0).unwrap().member("n6").unwrap().incarnation;
    sim.restart(6);
    sim.run_until_cond(secs(30.0), secs(0.05), Simulation::converged).expect("back everywhere");
    let new = sim.engine(6).unwrap().local_member().incarnation;
    assert!(new > old);
}

#[test]
fn one_way_partition_makes_the_silent_side_suspected() {
    // n0 cannot send to anyone but hears everyone: the others stop getting
    // its acks and declare it dead; n0 itself still hears them.
    let mut sim = joined(6, 4);
    sim.network.partition(&[vec![0]], true);
    sim.run_until_cond(secs(60.0), secs(0.05), |s| s.all_see(0, MemberState::Dead))
        .expect("the mute node is declared dead");
    sim.network.heal();
    sim.run_until_cond(secs(120.0), secs(0.05), Simulation::converged).expect("healed");
}

#[test]
fn duplicated_and_reordered_datagrams_do_no_harm() {
    let mut sim = Simulation::new(Config::lan(), 16, 5).unwrap();
    sim.network.default.duplicate = 0.3;
    sim.network.default.reorder = 0.3;
    sim.join_all(0);
    sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
    sim.run_for(secs(120.0));
    assert!(sim.log().iter().all(|r| r.kind != RecordKind::Failed), "no false failure");
    let received: u64 = (0..16).map(|i| sim.node_stats(i).datagrams_received).sum();
    let sent: u64 = (0..16).map(|i| sim.node_stats(i).datagrams_sent).sum();
    assert!(received > sent, "duplicates were delivered ({received} > {sent})");
}

#[test]
fn per_link_loss_only_hurts_that_link() {
    let mut sim = joined(6, 6);
    for j in 0..6 {
        if j != 1 {
            sim.network.set_link(1, j, Link { loss: 1.0, ..Link::default() });
        }
    }
    sim.run_until_cond(secs(60.0), secs(0.05), |s| s.all_see(1, MemberState::Dead))
        .expect("a node whose every outgoing link loses everything is declared dead");
    let others_dead = sim
        .log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && r.subject != 1 && r.node != 1)
        .count();
    assert_eq!(others_dead, 0, "only n1 was declared dead by the others");
}

#[test]
fn intervals_account_for_all_traffic() {
    let mut sim = joined(8, 7);
    sim.run_for(secs(10.0));
    let sent: u64 = sim.intervals().iter().map(|i| i.datagrams_sent).sum();
    let total: u64 = (0..8).map(|i| sim.node_stats(i).datagrams_sent).sum();
    // The interval in progress is not in the list yet.
    assert!(sent <= total && sent + 200 > total, "{sent} vs {total}");
    let starts: Vec<Duration> = sim.intervals().iter().map(|i| i.start).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == Duration::from_secs(1)));
}

#[test]
fn a_joined_cluster_starts_converged_and_detects_a_crash() {
    let mut sim = Simulation::new_joined(Config::lan(), 200, 4).unwrap();
    assert!(sim.converged(), "everyone knows everyone at t = 0");
    assert!(sim.log().is_empty(), "no join happened, so nothing to record");
    sim.run_for(secs(5.0));
    assert!(sim.converged());
    assert!(
        !sim.log().iter().any(|r| matches!(r.kind, RecordKind::Suspected | RecordKind::Failed)),
        "a quiet cluster suspects nobody"
    );
    let sent: u64 = (0..200).map(|i| sim.node_stats(i).datagrams_sent).sum();
    // About one probe and its ack per node per second; no join traffic.
    assert!((1500..2500).contains(&sent), "{sent} datagrams in 5 s");
    sim.kill(17);
    let t0 = sim.now();
    let t = sim
        .run_until_cond(secs(30.0), secs(0.1), |s| s.all_see(17, MemberState::Dead))
        .expect("all survivors declare the crashed node dead");
    assert!(t - t0 < secs(15.0), "{:?}", t - t0);
    // A node added later joins the cluster the usual way.
    let late = sim.add_node();
    sim.join(late, &[3]);
    sim.run_until_cond(secs(30.0), secs(0.1), |s| s.all_see(late, MemberState::Alive))
        .expect("everyone learns of the newcomer");
    assert_eq!(sim.engine(late).unwrap().live_members(), 200);
}

#[test]
fn engine_counters_add_up_over_a_nodes_lives() {
    let mut sim = joined(5, 2);
    sim.run_for(secs(10.0));
    let first_life = sim.engine(3).unwrap().stats().clone();
    assert!(first_life.probes >= 9);
    sim.kill(3);
    assert_eq!(sim.engine_stats(3), first_life, "a crash keeps what the node did");
    sim.run_for(secs(5.0));
    sim.restart(3);
    sim.run_for(secs(10.0));
    let second_life = sim.engine(3).unwrap().stats().clone();
    let total = sim.engine_stats(3);
    assert_eq!(total.probes, first_life.probes + second_life.probes);
    assert_eq!(total.packets_sent, first_life.packets_sent + second_life.packets_sent);
    assert_eq!(
        total.messages_received[MessageKind::Ping as usize],
        first_life.messages_received[MessageKind::Ping as usize]
            + second_life.messages_received[MessageKind::Ping as usize]
    );
}

/// A log told to keep only some kinds stores just those, counts every
/// record all the same, and changes nothing the engines do: the kept
/// records are the full log's records of those kinds, the intervals and
/// views are the same.
#[test]
fn a_log_keeping_some_kinds_counts_the_rest_and_changes_nothing_else() {
    let run = |keep: Option<&[RecordKind]>| {
        let mut sim = Simulation::new(Config::lan(), 40, 3).unwrap();
        if let Some(kinds) = keep {
            sim.keep_records(kinds);
        }
        sim.join_all(0);
        sim.run_for(secs(3.0));
        sim.kill(5);
        sim.run_for(secs(10.0));
        sim
    };
    let full = run(None);
    let kinds: Vec<RecordKind> =
        RecordKind::ALL.into_iter().filter(|&k| k != RecordKind::Joined).collect();
    let lean = run(Some(&kinds));
    let joined = full.log().iter().filter(|r| r.kind == RecordKind::Joined).count();
    assert!(joined >= 40 * 39, "every node learned every other: {joined}");
    assert!(lean.log().iter().all(|r| r.kind != RecordKind::Joined));
    let rest: Vec<Record> =
        full.log().iter().filter(|r| r.kind != RecordKind::Joined).copied().collect();
    assert_eq!(lean.log(), &rest[..]);
    assert!(lean.log().iter().any(|r| r.kind == RecordKind::Failed), "the crash is kept");
    for kind in RecordKind::ALL {
        let n = full.log().iter().filter(|r| r.kind == kind).count() as u64;
        assert_eq!((kind, lean.records_written(kind)), (kind, n));
        assert_eq!((kind, full.records_written(kind)), (kind, n));
    }
    assert_eq!(lean.intervals(), full.intervals());
    for i in 0..40 {
        assert_eq!(lean.members(i), full.members(i), "n{i}");
    }
}

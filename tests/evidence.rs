//! Crash detection from evidence (issue 17): a killed process's port is
//! closed and answers "unreachable"; a paused process, a crashed host and
//! a partition stay silent and go the full Lifeguard way.

mod script;

use rumor::proto::{Config, FailureReason, MemberState};
use rumor::sim::{RecordKind, Simulation};
use script::{failure_reasons, records, secs};
use std::time::Duration;

const N: usize = 16;

/// How long after `at` until every node but `dead` sees it dead, if within
/// `limit`.
fn time_to_all_dead(sim: &mut Simulation, dead: u32, limit: f64) -> Option<Duration> {
    let at = sim.now();
    sim.run_until_cond(at + secs(limit), secs(0.01), |s| s.all_see(dead, MemberState::Dead))
        .map(|t| t - at)
}

fn total(sim: &Simulation, f: impl Fn(&rumor::proto::Stats) -> u64) -> u64 {
    (0..sim.len() as u32).map(|i| f(&sim.engine_stats(i))).sum()
}

#[test]
fn a_killed_member_is_known_dead_everywhere_within_two_seconds() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 7).unwrap();
    sim.run_for(secs(3.0));
    sim.kill(5);
    let t = time_to_all_dead(&mut sim, 5, 30.0).expect("declared dead");
    assert!(t < secs(2.0), "every survivor knew after {t:?}");
    assert_eq!(total(&sim, |s| s.failures_by_evidence), 1, "one prober had the evidence");
    assert_eq!(total(&sim, |s| s.failures_by_timeout), 0, "no suspicion ran out");
    // The death is gossiped with its reason: every survivor can tell it
    // was evidence, not a suspicion that ran out.
    let reasons = failure_reasons(&sim, 5);
    assert_eq!(reasons.len(), N - 1, "one report per survivor: {reasons:?}");
    assert!(
        reasons.iter().all(|&(_, r)| r == Some(FailureReason::ClosedPort)),
        "every survivor saw the closed port as the reason: {reasons:?}"
    );
}

#[test]
fn without_the_switch_a_killed_member_waits_out_the_suspicion() {
    let config = Config { closed_port_evidence: false, ..Config::lan() };
    let mut sim = Simulation::new_joined(config, N, 7).unwrap();
    sim.run_for(secs(3.0));
    sim.kill(5);
    let t = time_to_all_dead(&mut sim, 5, 60.0).expect("declared dead");
    assert!(t > secs(4.0), "the suspicion timeout, not evidence: {t:?}");
    assert_eq!(total(&sim, |s| s.failures_by_evidence), 0);
    assert!(total(&sim, |s| s.failures_by_timeout) >= 1);
    assert!(total(&sim, |s| s.unreachables) > 0, "the closed port was still reported");
}

#[test]
fn a_crashed_host_stays_silent_and_waits_out_the_suspicion() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 7).unwrap();
    sim.run_for(secs(3.0));
    sim.crash_host(5);
    let t = time_to_all_dead(&mut sim, 5, 60.0).expect("declared dead");
    assert!(t > secs(4.0), "no evidence from a silent host: {t:?}");
    assert_eq!(total(&sim, |s| s.unreachables), 0);
    assert_eq!(total(&sim, |s| s.failures_by_evidence), 0);
    let reasons = failure_reasons(&sim, 5);
    assert_eq!(reasons.len(), N - 1, "one report per survivor: {reasons:?}");
    assert!(
        reasons.iter().all(|&(_, r)| r == Some(FailureReason::SuspicionTimeout)),
        "a silent host's death is a suspicion that ran out: {reasons:?}"
    );
}

#[test]
fn a_member_paused_for_five_seconds_is_never_declared_dead() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 11).unwrap();
    sim.run_for(secs(3.0));
    sim.pause(5, secs(5.0));
    sim.run_for(secs(20.0));
    assert!(records(&sim, RecordKind::Failed, 5).is_empty(), "a pause is not a crash");
    assert_eq!(total(&sim, |s| s.unreachables), 0, "a paused process keeps its port");
    assert!(sim.converged());
}

#[test]
fn a_member_restarted_on_its_address_is_not_declared_dead() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 13).unwrap();
    sim.run_for(secs(3.0));
    sim.kill(5);
    sim.restart(5);
    sim.run_for(secs(20.0));
    assert!(records(&sim, RecordKind::Failed, 5).is_empty(), "the new process answers");
    assert_eq!(total(&sim, |s| s.failures_by_evidence), 0);
    assert!(sim.converged());
}

#[test]
fn a_partition_draws_no_evidence() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 17).unwrap();
    sim.run_for(secs(3.0));
    sim.network.partition(&[vec![0, 1, 2, 3]], false);
    sim.run_for(secs(30.0));
    assert_eq!(total(&sim, |s| s.unreachables), 0);
    assert_eq!(total(&sim, |s| s.failures_by_evidence), 0);
    assert!(total(&sim, |s| s.failures_by_timeout) > 0, "the sides part the slow way");
}

#[test]
fn a_wan_cluster_ignores_closed_ports() {
    assert!(!Config::wan().closed_port_evidence);
    assert!(Config::lan().closed_port_evidence && Config::local().closed_port_evidence);
}

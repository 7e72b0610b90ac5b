//! Names are identities (issue 17): a second process started under a live
//! member's name is refused and the member keeps its name; a member that
//! restarts on a new address (after its death, or before anyone noticed)
//! is accepted there and reported as restarted; a claim to a live
//! member's name from another address is refuted.

mod script;

use rumor::codec::{self, Message};
use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use script::{records, secs};
use std::net::SocketAddr;

const N: usize = 8;
const HOLDER: u32 = 3;

/// `(addr, state, incarnation)` of node `subject` as node `observer` holds it.
fn held(sim: &Simulation, observer: u32, subject: u32) -> Option<(SocketAddr, MemberState, u64)> {
    let m = sim.engine(observer)?.member(sim.name(subject))?;
    Some((m.addr, m.state, m.incarnation))
}

/// Every running node but `subject` (and `except`) holds it alive at
/// `addr`.
fn all_hold_alive_at(sim: &Simulation, subject: u32, addr: SocketAddr, except: &[u32]) -> bool {
    (0..sim.len() as u32).filter(|&i| i != subject && !except.contains(&i)).all(|i| {
        held(sim, i, subject).is_some_and(|(a, s, _)| a == addr && s == MemberState::Alive)
    })
}

/// A second process under a live member's name joins through a seed: the
/// seed checks the holder's address, the holder answers, the join is
/// refused with a conflict; the holder's address, state and incarnation
/// are unchanged everywhere, and it never had to refute anything.
#[test]
fn a_second_process_under_a_live_name_is_refused_and_the_holder_keeps_it() {
    for seed_node in [0, HOLDER] {
        let mut sim = Simulation::new_joined(Config::lan(), N, 31).unwrap();
        sim.run_for(secs(3.0));
        let before: Vec<_> = (0..N as u32).map(|i| held(&sim, i, HOLDER)).collect();
        let impostor = sim.add_impostor(HOLDER);
        sim.join(impostor, &[seed_node]);
        sim.run_for(secs(10.0));
        assert_eq!(records(&sim, RecordKind::JoinConflict, impostor).len(), 1, "refused");
        assert!(records(&sim, RecordKind::JoinSucceeded, impostor).is_empty());
        assert!(records(&sim, RecordKind::JoinFailed, impostor).is_empty(), "not a timeout");
        let after: Vec<_> = (0..N as u32).map(|i| held(&sim, i, HOLDER)).collect();
        assert_eq!(before, after, "the holder is unaffected everywhere");
        assert!(all_hold_alive_at(&sim, HOLDER, sim.addr(HOLDER), &[impostor]));
        assert!(records(&sim, RecordKind::Refuted, HOLDER).is_empty(), "nothing to refute");
        assert!(records(&sim, RecordKind::Restart, HOLDER).is_empty());
        let s = sim.engine_stats(impostor);
        if seed_node == HOLDER {
            assert_eq!(sim.engine_stats(HOLDER).name_conflicts, 1, "the holder refused");
        } else {
            assert_eq!((s.name_checks, s.name_checks_passed), (1, 0), "the holder answered");
        }
        assert_eq!(s.joins_conflicted, 1);
        let learnt = (0..N as u32).filter(|&i| sim.engine(i).is_some_and(|e| e.table_len() > N));
        assert_eq!(learnt.count(), 0, "nobody learnt the impostor's address");
    }
}

/// A member killed, declared dead, then started again on a new port is
/// accepted there (memberlist#157), and everyone reports it restarted.
#[test]
fn a_member_back_on_a_new_port_after_its_death_is_accepted_as_restarted() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 32).unwrap();
    sim.run_for(secs(3.0));
    sim.kill(HOLDER);
    let dead = sim.run_until_cond(sim.now() + secs(30.0), secs(0.05), |s| {
        s.all_see(HOLDER, MemberState::Dead)
    });
    assert!(dead.is_some(), "declared dead");
    sim.restart_on_new_port(HOLDER);
    let back = sim.now();
    let at = sim.run_until_cond(back + secs(10.0), secs(0.05), |s| {
        all_hold_alive_at(s, HOLDER, s.addr(HOLDER), &[])
    });
    assert!(at.is_some_and(|t| t - back < secs(2.0)), "accepted at the new address: {at:?}");
    sim.run_for(secs(2.0));
    let restarts = records(&sim, RecordKind::Restart, HOLDER);
    assert_eq!(restarts.len(), N - 1, "every other member reports the restart: {restarts:?}");
    assert_eq!(sim.engine_stats(HOLDER).name_checks, 0, "a dead holder needs no check");
}

/// A member closed and started again on a new port before anyone noticed:
/// the seed finds the old port closed, accepts the new process, and every
/// member reports it restarted, at its new address, within a second.
#[test]
fn a_member_restarted_on_a_new_port_before_anyone_noticed_is_reported_restarted() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 33).unwrap();
    sim.run_for(secs(3.0));
    let old = sim.addr(HOLDER);
    sim.restart_on_new_port_closed(HOLDER);
    let new = sim.addr(HOLDER);
    assert_ne!(old, new);
    let back = sim.now();
    let at = sim
        .run_until_cond(back + secs(10.0), secs(0.01), |s| all_hold_alive_at(s, HOLDER, new, &[]));
    assert!(at.is_some_and(|t| t - back < secs(1.0)), "accepted within a second: {at:?}");
    sim.run_for(secs(1.0));
    let observers: std::collections::BTreeSet<u32> =
        records(&sim, RecordKind::Restart, HOLDER).into_iter().map(|(_, o)| o).collect();
    assert_eq!(observers.len(), N - 1, "every other member reports the restart");
    let s = sim.engine_stats(HOLDER);
    assert_eq!((s.name_checks, s.name_checks_passed), (1, 1), "the old port found closed");
    assert_eq!(s.joins_conflicted, 0);
    sim.run_for(secs(20.0));
    assert!(all_hold_alive_at(&sim, HOLDER, new, &[]), "and it stays there");
    assert!(sim.converged());
}

/// Someone gossips that a live member is alive at another address with a
/// higher incarnation: the member refutes from its own address, counts it,
/// and everyone ends up holding it where it is.
#[test]
fn a_claim_to_a_live_name_from_another_address_is_refuted() {
    let mut sim = Simulation::new_joined(Config::lan(), N, 34).unwrap();
    sim.run_for(secs(3.0));
    let (addr, _, inc) = held(&sim, 0, HOLDER).expect("known");
    let fake: SocketAddr = "10.9.9.9:7946".parse().unwrap();
    let claim = Message::Alive(codec::Alive {
        name: sim.name(HOLDER).into(),
        addr: fake,
        incarnation: inc + 5,
        meta: Vec::new(),
    });
    let from = sim.addr(1);
    sim.with_engine(0, |e, now| e.handle_packet(now, from, &codec::encode(&[claim])));
    assert_eq!(held(&sim, 0, HOLDER).map(|h| h.0), Some(fake), "node 0 took the claim");
    let at = sim.run_until_cond(sim.now() + secs(10.0), secs(0.05), |s| {
        all_hold_alive_at(s, HOLDER, addr, &[])
            && (0..N as u32).all(|i| i == HOLDER || held(s, i, HOLDER).unwrap().2 > inc + 5)
    });
    assert!(at.is_some(), "the holder's refutation won everywhere");
    assert!(sim.engine_stats(HOLDER).name_claims_refuted >= 1);
}

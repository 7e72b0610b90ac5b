//! The safety net of restructures: fixed-seed scenarios whose event logs,
//! interval counters and final views must not change by a single byte.
//!
//! Each scenario's trace (every log record with its content, every interval's
//! counters, every running node's final view and the messages it sent by
//! kind) is hashed with FNV-1a 64 and compared with `tests/traces.expected`.
//! A change that is meant to alter behaviour re-records with
//! `RUMOR_RECORD_TRACES=1 cargo test --test traces` and says in its commit
//! which scenarios changed and why; any other change must leave every hash as
//! it is.

mod script;

use rumor::codec::Key;
use rumor::codec::Value;
use rumor::proto::{Config, FailureDetector};
use rumor::sim::Simulation;
use script::secs;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// FNV-1a, 64 bits: fixed by its definition, so a hash recorded on one
/// build compares with one computed on any other.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Everything observable about a finished simulation, as text.
fn trace(sim: &Simulation) -> String {
    let mut out = String::new();
    for r in sim.log() {
        let content = sim.content(r).map(|c| format!("{c:?}")).unwrap_or_default();
        writeln!(
            out,
            "{:?} {} {} {} {} {}",
            r.time,
            r.node,
            r.kind.as_str(),
            r.subject,
            r.incarnation,
            content
        )
        .unwrap();
    }
    for i in sim.intervals() {
        writeln!(
            out,
            "interval {:?} {} {} {} {} {}",
            i.start,
            i.datagrams_sent,
            i.bytes_sent,
            i.datagrams_delivered,
            i.datagrams_dropped,
            i.records
        )
        .unwrap();
    }
    for i in 0..sim.len() as u32 {
        let Some(e) = sim.engine(i) else { continue };
        write!(out, "view {i}:").unwrap();
        for m in e.members() {
            write!(out, " {}@{}/{:?}/{}/{:?}", m.name, m.addr, m.state, m.incarnation, m.meta)
                .unwrap();
        }
        writeln!(out, " sent {:?}", sim.engine_stats(i).messages_sent).unwrap();
    }
    out
}

fn joined(config: Config, n: usize, seed: u64) -> Simulation {
    let mut sim = Simulation::new(config, n, seed).expect("valid config");
    sim.join_all(0);
    sim
}

fn quorum() -> Config {
    Config { failure_detector: FailureDetector::Quorum, node_timeout: secs(1.0), ..Config::lan() }
}

/// A named scenario: the function plays it and returns the finished run.
type Scenario = (&'static str, fn() -> Simulation);

/// The scenarios.
fn scenarios() -> Vec<Scenario> {
    vec![
        ("join_64", || {
            let mut sim = joined(Config::lan(), 64, 1);
            sim.run_for(secs(20.0));
            sim
        }),
        ("crash", || {
            let mut sim = joined(Config::lan(), 32, 2);
            sim.run_for(secs(5.0));
            sim.kill(7);
            sim.run_for(secs(40.0));
            sim
        }),
        ("loss", || {
            let mut sim = Simulation::new(Config::lan(), 40, 3).unwrap();
            sim.network.default.loss = 0.1;
            sim.join_all(0);
            sim.run_for(secs(60.0));
            sim
        }),
        ("partition_heal", || {
            let mut sim = joined(Config::lan(), 24, 4);
            sim.run_for(secs(5.0));
            sim.network.partition(&[(0..12).collect(), (12..24).collect()], false);
            sim.run_for(secs(40.0));
            sim.network.heal();
            sim.run_for(secs(40.0));
            sim
        }),
        ("pause", || {
            let mut sim = joined(Config::lan(), 16, 5);
            sim.run_for(secs(5.0));
            sim.pause(3, secs(8.0));
            sim.run_for(secs(30.0));
            sim
        }),
        ("stall", || {
            let mut sim = joined(Config::lan(), 16, 6);
            sim.run_for(secs(5.0));
            sim.stall(2, secs(4.0));
            sim.network.default.loss = 0.05;
            sim.run_for(secs(30.0));
            sim
        }),
        ("restart_leave_meta", || {
            let mut sim = joined(Config::lan(), 16, 7);
            sim.run_for(secs(5.0));
            sim.kill(5);
            sim.run_for(secs(20.0));
            sim.restart(5);
            sim.set_meta(9, b"role=db".to_vec()).unwrap();
            sim.run_for(secs(10.0));
            sim.leave(11);
            sim.run_for(secs(20.0));
            sim
        }),
        ("broadcasts", || {
            let mut sim = joined(Config::local(), 16, 8);
            sim.run_for(secs(2.0));
            sim.network.default.loss = 0.05;
            for k in 0..40u32 {
                sim.broadcast(k % 16, format!("rumor {k}").into_bytes()).unwrap();
                sim.run_for(secs(0.05));
            }
            // Too big for a datagram: over a stream.
            sim.broadcast(3, vec![7; 5000]).unwrap();
            sim.run_for(secs(30.0));
            sim
        }),
        ("state_sync", || {
            let config = Config { push_pull_interval: secs(2.0), ..Config::lan() };
            let mut sim = joined(config, 20, 9);
            sim.run_for(secs(3.0));
            for k in 0..30u32 {
                let key = format!("k{}", k % 7);
                sim.set(k % 20, &key, Value::Text(format!("v{k}"))).unwrap();
            }
            sim.delete(4, "k4").unwrap();
            sim.network.partition(&[vec![6]], false);
            sim.set(6, "alone", Value::Bytes(vec![1, 2, 3])).unwrap();
            sim.run_for(secs(10.0));
            sim.network.heal();
            sim.run_for(secs(20.0));
            sim
        }),
        ("idle_summaries", || {
            let config = Config { push_pull_interval: secs(1.0), ..Config::lan() };
            let mut sim = Simulation::new_joined(config, 120, 10).unwrap();
            sim.set(3, "k", Value::Text("v".into())).unwrap();
            sim.run_for(secs(30.0));
            sim
        }),
        ("quorum", || {
            let mut sim = joined(quorum(), 16, 11);
            sim.run_for(secs(5.0));
            sim.kill(7);
            sim.pause(9, secs(4.0));
            sim.run_for(secs(30.0));
            sim.restart(7);
            sim.run_for(secs(15.0));
            sim
        }),
        ("sealed", || {
            let config = Config { keys: vec![Key([1; 32])], label: "prod".into(), ..Config::lan() };
            let mut sim = joined(config, 12, 12);
            sim.run_for(secs(5.0));
            sim.broadcast(3, b"sealed".to_vec()).unwrap();
            sim.kill(4);
            sim.run_for(secs(30.0));
            sim
        }),
    ]
}

const EXPECTED: &str = "tests/traces.expected";

#[test]
fn simulator_traces_are_unchanged() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED);
    let actual: BTreeMap<String, String> = scenarios()
        .into_iter()
        .map(|(name, play)| {
            let t = trace(&play());
            assert!(t.lines().count() > 100, "{name}: a trace that records nothing proves nothing");
            (name.to_string(), format!("{:016x}", fnv1a(t.as_bytes())))
        })
        .collect();
    if std::env::var_os("RUMOR_RECORD_TRACES").is_some() {
        let text: String = actual.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).expect("tests/traces.expected");
    let expected: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let changed: Vec<&String> =
        actual.keys().filter(|k| expected.get(*k) != actual.get(*k)).collect();
    assert!(
        changed.is_empty() && expected.len() == actual.len(),
        "traces changed: {changed:?} (expected {} scenarios, played {})",
        expected.len(),
        actual.len()
    );
}

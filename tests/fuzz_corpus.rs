//! Replays the fuzzers' corpus (`fuzz/corpus/<target>/`) through the same
//! checks the fuzz targets run, on stable Rust: every input the fuzzers
//! kept, and every crash they ever found (added to the corpus once fixed),
//! stays covered by `cargo test`. The fuzzers themselves need nightly:
//! `fuzz/run.sh`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails its check", path.display());
        n += 1;
    }
    n
}

#[test]
fn decode_corpus() {
    assert!(replay("decode", rumor::fuzzing::decode) > 10);
}

#[test]
fn open_corpus() {
    assert!(replay("open", rumor::fuzzing::open) > 1);
}

#[test]
fn engine_corpus() {
    assert!(replay("engine", rumor::fuzzing::engine) > 1);
}

#[test]
fn engine_sealed_corpus() {
    assert!(replay("engine_sealed", rumor::fuzzing::engine_sealed) > 1);
}

//! Fuzz target: see `rumor::fuzzing::engine`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumor::fuzzing::engine(data));

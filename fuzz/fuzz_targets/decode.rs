//! Fuzz target: see `rumor::fuzzing::decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumor::fuzzing::decode(data));

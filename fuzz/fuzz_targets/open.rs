//! Fuzz target: see `rumor::fuzzing::open`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumor::fuzzing::open(data));

//! Fuzz target: see `rumor::fuzzing::engine_sealed`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumor::fuzzing::engine_sealed(data));

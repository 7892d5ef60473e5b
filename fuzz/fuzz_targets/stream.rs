//! stream frames (seed 003): one WebSocket text frame. The invariants:
//! `gateway::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| gateway::fuzzing::stream(input));

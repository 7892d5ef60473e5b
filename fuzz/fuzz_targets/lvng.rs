//! lvng events (seed 002): `event\npayload`, decoded as a customer and as
//! an agent. The input format and the invariants: `gateway::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| gateway::fuzzing::lvng(input));

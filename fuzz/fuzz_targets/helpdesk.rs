//! helpdesk (seed 004): `event\npayload`, or `connect\nquery\nhandshake`;
//! refusals as the seed's envelope. The input format and the invariants:
//! `gateway::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| gateway::fuzzing::helpdesk(input));

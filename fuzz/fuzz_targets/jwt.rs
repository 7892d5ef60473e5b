//! JWT verification and claims: a token as text (even first byte), or
//! claims signed with the right key (odd). The invariants:
//! `gateway::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| gateway::fuzzing::jwt(input));

#![no_main]
//! See `chatvault::fuzzing::key_template` for what the input means and what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatvault::fuzzing::key_template(data));

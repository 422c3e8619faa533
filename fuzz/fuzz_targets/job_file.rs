#![no_main]
//! See `chatvault::fuzzing::job_file` for what the input means and what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatvault::fuzzing::job_file(data));

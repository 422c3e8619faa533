//! The fuzz smoke: every committed seed of `fuzz/corpus/<target>/` replayed through the same
//! check the fuzz target runs (`chatvault::fuzzing`), without libFuzzer or a nightly
//! toolchain. A finding fixed once stays fixed: its input is kept in the corpus.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[test]
fn fuzz_seed_corpora_replay_without_a_crash_or_broken_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    for (target, check) in chatvault::fuzzing::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{} holds no seeds", dir.display());
        for input in inputs {
            let data = fs::read(&input).expect("corpus file");
            if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                failures.push(input.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that fail their target's check: {failures:#?}"
    );
}

//! `run_seeds`: runs a body over consecutive seeds and re-raises the first failure.

use scheduler::run_seeds;
use std::panic::{AssertUnwindSafe, catch_unwind};

#[test]
fn run_seeds_stops_at_the_first_failing_seed_reruns_it_once_and_reraises_its_panic() {
    if std::env::var_os("SEED").is_some() || std::env::var_os("ITERATIONS").is_some() {
        return; // this test checks the defaults
    }
    let mut seen = Vec::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_seeds(|seed| {
            seen.push(seed);
            assert!(seed != 3, "seed three is bad");
        })
    }));
    let payload = outcome.expect_err("the failing seed's panic is re-raised");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("seed three is bad"), "{message}");
    // Seed 3 runs a second time, quietly, to record its schedule for the replay file.
    assert_eq!(seen, [0, 1, 2, 3, 3]);
}

#[test]
fn run_seeds_runs_the_default_number_of_seeds() {
    if std::env::var_os("SEED").is_some() || std::env::var_os("ITERATIONS").is_some() {
        return;
    }
    let mut seen = Vec::new();
    run_seeds(|seed| seen.push(seed));
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
}

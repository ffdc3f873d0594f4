//! Seeds-to-bug per exploration strategy: the README's table. Prints; never fails.
//!
//! `cargo bench -p native-tests --bench exploration`
//!
//! For each seeded bug program (`native_tests::exploration::PROGRAMS`) and each strategy, 20
//! independent searches (search `r` starts at seed `r * 1_000_000`, so the table reproduces)
//! count the schedules run until the bug happens (`TestScheduler::search`). Reported: median
//! [min-max]; `>N` when a search did not hit the bug within its N schedules. PCT's `steps` is
//! the program's tasks x steps (its choice points are fewer), except in the last PCT column,
//! which keeps the default. The exhaustive search is deterministic: one search, one number.

use native_tests::exploration::{PROGRAMS, Program, STEPS, seeds_to_bug};
use scheduler::Strategy;
use std::time::Instant;

const RUNS: u64 = 20;
const LIMIT: u64 = 200_000;
const EXHAUSTIVE_LIMIT: u64 = 200_000;

fn strategies(program: &Program) -> Vec<(String, Strategy)> {
    let steps = u64::from(program.tasks * STEPS);
    let mut strategies = vec![("random".to_string(), Strategy::Random)];
    for depth in 1..=3 {
        strategies.push((format!("pct d={depth}"), Strategy::Pct { depth, steps }));
    }
    // The same with the default `steps` (100), several times the programs' choice points.
    strategies.push(("pct d=3, steps=100".to_string(), Strategy::pct(3)));
    strategies.push(("exhaustive".to_string(), Strategy::Exhaustive));
    strategies
}

/// `median [min-max]` of the searches' counts (`None`: not found within `limit`).
fn summary(mut counts: Vec<Option<u64>>, limit: u64) -> String {
    let show = |count: Option<u64>| match count {
        Some(count) => count.to_string(),
        None => format!(">{limit}"),
    };
    counts.sort_by_key(|count| count.unwrap_or(u64::MAX));
    if counts.iter().all(Option::is_none) {
        return format!("not found ({})", show(None));
    }
    if counts.len() == 1 {
        return format!("{} (deterministic)", show(counts[0]));
    }
    let median = counts[counts.len() / 2 - 1..=counts.len() / 2].to_vec();
    let median = match (median[0], median[1]) {
        (Some(a), Some(b)) => format!("{}", (a + b) as f64 / 2.0),
        _ => format!(">{limit}"),
    };
    format!(
        "{median} [{}-{}]",
        show(counts[0]),
        show(*counts.last().unwrap())
    )
}

fn main() {
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let mut header = false;
    for program in PROGRAMS.iter().filter(|program| {
        only.as_deref()
            .is_none_or(|only| program.name.contains(only))
    }) {
        let strategies = strategies(program);
        if !header {
            let names: Vec<_> = strategies.iter().map(|(name, _)| name.as_str()).collect();
            println!("| program (depth, tasks x steps) | {} |", names.join(" | "));
            println!("|---|{}", "---|".repeat(names.len()));
            header = true;
        }
        let mut cells = Vec::new();
        for (name, strategy) in &strategies {
            let start = Instant::now();
            let cell = if *strategy == Strategy::Exhaustive {
                let count = seeds_to_bug(program, *strategy, 0, EXHAUSTIVE_LIMIT);
                summary(vec![count], EXHAUSTIVE_LIMIT)
            } else {
                let counts = (0..RUNS)
                    .map(|run| seeds_to_bug(program, *strategy, run * 1_000_000, LIMIT))
                    .collect();
                summary(counts, LIMIT)
            };
            eprintln!(
                "{} / {name}: {cell} ({:.1?})",
                program.name,
                start.elapsed()
            );
            cells.push(cell);
        }
        println!(
            "| {} (d={}, {}x{}) | {} |",
            program.name,
            program.depth,
            program.tasks,
            STEPS,
            cells.join(" | ")
        );
    }
}

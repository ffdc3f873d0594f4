//! Explores a racy async program over many seeds with the deterministic `TestScheduler`, prints
//! the distinct interleavings it found, and the first seed that breaks the program's invariant,
//! with the command that replays it.
//!
//! The program: two "bank clients" each withdraw from a shared account. Each reads the balance,
//! awaits something (a simulated network round trip), then writes back `balance - amount`: a
//! classic lost update when the two interleave.
//!
//! ```text
//! cargo run --example explore              # 200 seeds
//! SEEDS=1000 cargo run --example explore   # more
//! SEED=3 cargo run --example explore       # replay one seed, printing its trace
//! ```

use scheduler::{Scheduler, TestScheduler, TestSchedulerConfig};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one seed did: the order of steps and the final balance.
struct Outcome {
    steps: Vec<String>,
    balance: i64,
    trace: Vec<String>,
}

fn run(seed: u64, trace: bool) -> Outcome {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let balance = Arc::new(Mutex::new(100i64));
    let steps = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = [("alice", 30), ("bob", 50)]
        .into_iter()
        .map(|(name, amount)| {
            let (balance, steps, test) = (balance.clone(), steps.clone(), test.clone());
            scheduler.spawn(async move {
                let seen = *balance.lock().unwrap();
                steps.lock().unwrap().push(format!("{name} reads {seen}"));
                test.simulate_random_delay().await; // the network round trip
                *balance.lock().unwrap() = seen - amount;
                steps
                    .lock()
                    .unwrap()
                    .push(format!("{name} writes {}", seen - amount));
            })
        })
        .collect();
    scheduler.block(futures::future::join_all(clients));
    let trace = test.take_trace().iter().map(ToString::to_string).collect();
    let steps = steps.lock().unwrap().clone();
    let balance = *balance.lock().unwrap();
    Outcome {
        steps,
        balance,
        trace,
    }
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(number) => Some(number),
        Err(_) => {
            eprintln!("error: {name}={value:?} is not a non-negative integer");
            std::process::exit(2);
        }
    }
}

fn main() {
    const EXPECTED: i64 = 100 - 30 - 50;
    if let Some(seed) = env_number("SEED") {
        let outcome = run(seed, true);
        println!(
            "seed {seed}: balance {} (expected {EXPECTED})",
            outcome.balance
        );
        for step in &outcome.steps {
            println!("  {step}");
        }
        println!("scheduler trace:");
        for event in &outcome.trace {
            println!("  {event}");
        }
        return;
    }
    let seeds = env_number("SEEDS").unwrap_or(200);
    let mut interleavings: BTreeMap<Vec<String>, (u64, i64, usize)> = BTreeMap::new();
    let mut first_failure = None;
    for seed in 0..seeds {
        let outcome = run(seed, false);
        if outcome.balance != EXPECTED && first_failure.is_none() {
            first_failure = Some((seed, outcome.balance));
        }
        interleavings
            .entry(outcome.steps)
            .or_insert((seed, outcome.balance, 0))
            .2 += 1;
    }
    println!(
        "explored {seeds} seeds of a two-client withdrawal race: {} distinct interleavings",
        interleavings.len()
    );
    for (steps, (seed, balance, count)) in &interleavings {
        let verdict = if *balance == EXPECTED {
            "ok"
        } else {
            "LOST UPDATE"
        };
        println!(
            "\n  {count:>4} seeds (first: {seed}) -> balance {balance:>3} [{verdict}]\n    {}",
            steps.join("\n    ")
        );
    }
    match first_failure {
        Some((seed, balance)) => println!(
            "\nfirst failing seed: {seed} (balance {balance}, expected {EXPECTED})\n\
             replay it with: SEED={seed} cargo run --example explore"
        ),
        None => println!("\nno seed broke the invariant (try more: SEEDS=1000)"),
    }
}

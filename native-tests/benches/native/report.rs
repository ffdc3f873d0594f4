//! Collects samples per (scenario, executor, metric) and prints median, min-max and ratios.

use std::collections::BTreeMap;

/// Per executor (in first-seen order), its values of one metric.
type ByExecutor = Vec<(String, Vec<f64>)>;

/// Samples keyed by scenario id, then metric, then executor.
#[derive(Default)]
pub struct Samples {
    by_scenario: BTreeMap<String, BTreeMap<String, ByExecutor>>,
}

impl Samples {
    /// Records one counted measurement.
    pub fn push(&mut self, scenario: &str, executor: &str, metric: &str, value: f64) {
        let executors = self
            .by_scenario
            .entry(scenario.to_owned())
            .or_default()
            .entry(metric.to_owned())
            .or_default();
        match executors.iter_mut().find(|(name, _)| name == executor) {
            Some((_, values)) => values.push(value),
            None => executors.push((executor.to_owned(), vec![value])),
        }
    }

    /// The median of `executor`'s values of `metric` in `scenario`, if measured.
    pub fn median_of(&self, scenario: &str, metric: &str, executor: &str) -> Option<f64> {
        let executors = self.by_scenario.get(scenario)?.get(metric)?;
        let (_, values) = executors.iter().find(|(name, _)| name == executor)?;
        Some(median(values))
    }

    /// Prints one table per metric of `scenario`, with ratios of `ours` to every peer.
    pub fn print(&self, scenario: &str, title: &str, unit: &str, ours: &str) {
        let Some(metrics) = self.by_scenario.get(scenario) else {
            return;
        };
        for (metric, executors) in metrics {
            let unit = if metric.is_empty() { unit } else { metric };
            println!("({scenario}) {title} — {unit}");
            println!(
                "  {:<26} {:>12} {:>25} {:>10}",
                "executor", "median", "min-max", "ours/peer"
            );
            let our_median = executors
                .iter()
                .find(|(name, _)| name == ours)
                .map(|(_, values)| median(values));
            for (name, values) in executors {
                let median = median(values);
                let (min, max) = min_max(values);
                let ratio = match our_median {
                    Some(_) if name == ours => "-".to_owned(),
                    // Small ratios keep three significant digits (0.00x says nothing).
                    Some(ours) if median > 0.0 && ours / median < 0.01 => {
                        format!("{:.2e}x", ours / median)
                    }
                    Some(ours) if median > 0.0 => format!("{:.2}x", ours / median),
                    _ => "n/a".to_owned(),
                };
                println!(
                    "  {name:<26} {median:>12.1} {:>25} {ratio:>10}",
                    format!("{min:.1}-{max:.1}")
                );
            }
            println!();
        }
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(min, max), &v| {
            (min.min(v), max.max(v))
        })
}

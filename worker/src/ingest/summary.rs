//! [`EventSummary`]: what processing an event stores, and the pure computations of the three
//! fan-out stages that produce it.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The stored result of processing one event (key `event:{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    /// The event id the handler answered with.
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user.
    pub user: String,
    /// How many values the event carried.
    pub count: usize,
    /// Their sum.
    pub sum: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean.
    pub mean: f64,
    /// The population standard deviation.
    pub stddev: f64,
    /// How many values fall in `< 0`, `[0, 10)`, `[10, 100)`, `>= 100`.
    pub histogram: [u32; 4],
}

/// The totals stage takes this long per value.
pub const TOTALS_DELAY_PER_VALUE: Duration = Duration::from_millis(15);
/// The histogram stage takes this long.
pub const HISTOGRAM_DELAY: Duration = Duration::from_millis(40);
/// The spread stage takes this long.
pub const SPREAD_DELAY: Duration = Duration::from_millis(25);

/// Sum, minimum and maximum (of a non-empty slice).
pub(super) fn totals(values: &[f64]) -> (f64, f64, f64) {
    values.iter().fold(
        (0.0, f64::INFINITY, f64::NEG_INFINITY),
        |(sum, min, max), &value| (sum + value, min.min(value), max.max(value)),
    )
}

/// Counts per bucket: `< 0`, `[0, 10)`, `[10, 100)`, `>= 100`.
pub(super) fn histogram(values: &[f64]) -> [u32; 4] {
    let mut buckets = [0; 4];
    for &value in values {
        let bucket = match value {
            v if v < 0.0 => 0,
            v if v < 10.0 => 1,
            v if v < 100.0 => 2,
            _ => 3,
        };
        buckets[bucket] += 1;
    }
    buckets
}

/// Mean and population standard deviation (of a non-empty slice).
pub(super) fn spread(values: &[f64]) -> (f64, f64) {
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    // Squared by multiplication: exact on every target (`powi` may differ across platforms).
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    (mean, variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_compute_what_they_name() {
        let values = [-1.0, 2.0, 20.0, 300.0, 4.0];
        assert_eq!(totals(&values), (325.0, -1.0, 300.0));
        assert_eq!(histogram(&values), [1, 2, 1, 1]);
        let (mean, stddev) = spread(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((mean, stddev), (5.0, 2.0));
    }
}

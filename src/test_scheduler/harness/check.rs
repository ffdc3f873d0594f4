//! The determinism self-check (`CHECK_DETERMINISM=1`): the seed harness runs each seed twice
//! with every scheduler tracing, and this compares the two traces, naming the first step where
//! the runs went apart.

use crate::test_scheduler::engine::trace::TraceEvent;
use std::fmt::Write as _;

/// How many equal events before the difference the report shows.
const CONTEXT: usize = 3;

/// What the determinism check says when a seed's two runs differ (`None`: they did not).
/// `first` and `second` hold one trace per scheduler the seed created; `what` names the seed
/// (`seed 3`).
pub(crate) fn compare(
    what: &str,
    first: &[Vec<TraceEvent>],
    second: &[Vec<TraceEvent>],
) -> Option<String> {
    for scheduler in 0..first.len().max(second.len()) {
        let empty = Vec::new();
        let a = first.get(scheduler).unwrap_or(&empty);
        let b = second.get(scheduler).unwrap_or(&empty);
        let Some(index) = (0..a.len().max(b.len())).find(|&index| a.get(index) != b.get(index))
        else {
            continue;
        };
        let mut text = format!(
            "non-determinism: {what} ran differently the second time (CHECK_DETERMINISM).\nFirst \
             difference {}, event {index} of scheduler {scheduler}'s trace:\n",
            tick_of(&a[..index], a.get(index), b.get(index))
        );
        let _ = writeln!(text, "  first run:  {}", describe(a.get(index)));
        let _ = writeln!(text, "  second run: {}", describe(b.get(index)));
        if index > 0 {
            text.push_str("Both runs did the same just before:\n");
            for event in &a[index.saturating_sub(CONTEXT)..index] {
                let _ = writeln!(text, "  {}", describe(Some(event)));
            }
        }
        text.push_str(
            "Something the test reads differs between runs of one seed: a HashMap's iteration \
             order, the wall clock, real randomness, thread timing, or state an earlier run left \
             behind. The TestScheduler itself is deterministic per seed.",
        );
        return Some(text);
    }
    None
}

/// `at tick 7`, or where the first difference falls relative to the ticks.
fn tick_of(before: &[TraceEvent], a: Option<&TraceEvent>, b: Option<&TraceEvent>) -> String {
    for event in [a, b].into_iter().flatten() {
        if let TraceEvent::Ran { tick, .. } = event {
            return format!("at tick {tick}");
        }
    }
    match before.iter().rev().find_map(|event| match event {
        TraceEvent::Ran { tick, .. } => Some(*tick),
        _ => None,
    }) {
        Some(tick) => format!("during or after tick {tick}"),
        None => "before the first tick".to_string(),
    }
}

/// What a run did at one event: `tick 7: ran task#3 Background @ src/lib.rs:10:5 (at 0ns)`.
fn describe(event: Option<&TraceEvent>) -> String {
    match event {
        None => "nothing: its trace ended here".to_string(),
        Some(TraceEvent::Ran {
            tick,
            elapsed,
            task,
        }) => format!("tick {tick}: ran {task} (at {elapsed:?})"),
        Some(TraceEvent::Spawned { elapsed, task }) => format!("spawned {task} (at {elapsed:?})"),
        Some(TraceEvent::Ended {
            elapsed,
            task,
            outcome,
        }) => format!("{task} ended: {outcome:?} (at {elapsed:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskKind, TaskOutcome, TaskSummary};
    use std::time::Duration;

    fn task(id: u64) -> TaskSummary {
        TaskSummary {
            id,
            label: None,
            session: None,
            location: format!("src/lib.rs:{id}:1"),
            kind: TaskKind::Background,
            priority: crate::Priority::Medium,
        }
    }

    fn ran(tick: u64, id: u64) -> TraceEvent {
        TraceEvent::Ran {
            tick,
            elapsed: Duration::ZERO,
            task: task(id),
        }
    }

    #[test]
    fn names_the_first_differing_tick_task_location_and_both_runs() {
        let a = vec![ran(0, 1), ran(1, 2), ran(2, 1)];
        let b = vec![ran(0, 1), ran(1, 2), ran(2, 3)];
        let same = std::slice::from_ref(&a);
        assert_eq!(compare("seed 4", same, same), None);
        let report = compare("seed 4", &[a], &[b]).unwrap();
        assert!(report.contains("seed 4 ran differently"), "{report}");
        assert!(
            report.contains("at tick 2, event 2 of scheduler 0"),
            "{report}"
        );
        assert!(report.contains("first run:  tick 2: ran task#1 Background @ src/lib.rs:1:1"));
        assert!(report.contains("second run: tick 2: ran task#3 Background @ src/lib.rs:3:1"));
        assert!(report.contains("  tick 1: ran task#2"), "{report}");
    }

    #[test]
    fn a_shorter_trace_or_an_extra_scheduler_is_a_difference() {
        let end = TraceEvent::Ended {
            elapsed: Duration::ZERO,
            task: task(1),
            outcome: TaskOutcome::Completed,
        };
        let report = compare("seed 0", &[vec![ran(0, 1), end]], &[vec![ran(0, 1)]]).unwrap();
        assert!(report.contains("during or after tick 0"), "{report}");
        assert!(
            report.contains("second run: nothing: its trace ended here"),
            "{report}"
        );
        let report = compare("seed 0", &[vec![]], &[vec![], vec![ran(0, 1)]]).unwrap();
        assert!(report.contains("scheduler 1"), "{report}");
    }
}

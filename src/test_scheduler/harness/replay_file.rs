//! Replay files: the schedule of a failing seed, written under the cargo target directory, read
//! back by `REPLAY=<file>`. A small line-based text format (no serde):
//!
//! ```text
//! # comment lines start with '#'
//! scheduler-replay 1            format version
//! test exploration::lost_update  the test (thread name); REPLAY applies only to it
//! strategy pct:2:20             the strategy (see Strategy's text form)
//! seed 17                       the seed
//! scheduler                     one section per TestScheduler the seed created, in order:
//! choices 1 2*3 1               the task run at each choice point (`2*3`: task 2, three times)
//! draw 2 0..10 4 0 7            values task 2 drew from 0..10, in order (task 0: no task)
//! ```

use crate::test_scheduler::explore::draws::Draw;
use crate::test_scheduler::explore::{Recording, Strategy};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const HEADER: &str = "scheduler-replay 1";
/// Tokens per `choices` / `draw` line.
const PER_LINE: usize = 24;

/// A failing schedule, as written to and read from a replay file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplayFile {
    /// The test that wrote it (its thread name), if known.
    pub(crate) test: Option<String>,
    pub(crate) strategy: Strategy,
    pub(crate) seed: u64,
    /// One recording per scheduler the seed created, in creation order.
    pub(crate) schedulers: Vec<Recording>,
}

impl ReplayFile {
    pub(crate) fn to_text(&self, command: &str) -> String {
        let mut text = format!(
            "# A TestScheduler schedule that failed. Rerun exactly this schedule with:\n#   \
             {command}\n{HEADER}\n"
        );
        if let Some(test) = &self.test {
            let _ = writeln!(text, "test {test}");
        }
        let _ = writeln!(text, "strategy {}\nseed {}", self.strategy, self.seed);
        for recording in &self.schedulers {
            text.push_str("scheduler\n");
            let mut runs: Vec<String> = Vec::new();
            let mut choices = recording.choices.iter().peekable();
            while let Some(&task) = choices.next() {
                let mut count = 1;
                while choices.next_if_eq(&&task).is_some() {
                    count += 1;
                }
                runs.push(match count {
                    1 => task.to_string(),
                    _ => format!("{task}*{count}"),
                });
            }
            for line in runs.chunks(PER_LINE) {
                let _ = writeln!(text, "choices {}", line.join(" "));
            }
            let mut keys: Vec<(u64, u64, u64)> = Vec::new();
            for draw in &recording.draws {
                let key = (draw.task, draw.start, draw.end);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            for (task, start, end) in keys {
                let values: Vec<String> = recording
                    .draws
                    .iter()
                    .filter(|draw| (draw.task, draw.start, draw.end) == (task, start, end))
                    .map(|draw| draw.value.to_string())
                    .collect();
                for line in values.chunks(PER_LINE) {
                    let _ = writeln!(text, "draw {task} {start}..{end} {}", line.join(" "));
                }
            }
        }
        text
    }

    /// Parses a replay file's text; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(format!("{origin}: not a replay file (no {HEADER:?} line)")),
        }
        let (mut test, mut strategy, mut seed) = (None, None, None);
        let mut schedulers: Vec<Recording> = Vec::new();
        for (number, line) in lines {
            let error = |what: &str| format!("{origin}:{number}: {what}: {line:?}");
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "test" => test = Some(rest.to_string()),
                "strategy" => strategy = Some(rest.parse().map_err(|_| error("bad strategy"))?),
                "seed" => seed = Some(rest.parse().map_err(|_| error("bad seed"))?),
                "scheduler" => schedulers.push(Recording::default()),
                "choices" | "draw" => {
                    let recording = schedulers
                        .last_mut()
                        .ok_or_else(|| error("before any `scheduler` line"))?;
                    if key == "choices" {
                        parse_choices(rest, &mut recording.choices)
                            .ok_or_else(|| error("bad choices"))?;
                    } else {
                        parse_draws(rest, &mut recording.draws).ok_or_else(|| error("bad draw"))?;
                    }
                }
                _ => return Err(error("unknown line")),
            }
        }
        Ok(Self {
            test,
            strategy: strategy.ok_or_else(|| format!("{origin}: no strategy line"))?,
            seed: seed.ok_or_else(|| format!("{origin}: no seed line"))?,
            schedulers,
        })
    }

    /// Reads and parses the file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("REPLAY={}: {error}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }
}

fn parse_choices(text: &str, choices: &mut Vec<u64>) -> Option<()> {
    for token in text.split_whitespace() {
        let (task, count): (u64, usize) = match token.split_once('*') {
            Some((task, count)) => (task.parse().ok()?, count.parse().ok()?),
            None => (token.parse().ok()?, 1),
        };
        choices.extend(std::iter::repeat_n(task, count));
    }
    Some(())
}

fn parse_draws(text: &str, draws: &mut Vec<Draw>) -> Option<()> {
    let mut tokens = text.split_whitespace();
    let task = tokens.next()?.parse().ok()?;
    let (start, end) = tokens.next()?.split_once("..")?;
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    for value in tokens {
        draws.push(Draw {
            task,
            start,
            end,
            value: value.parse().ok()?,
        });
    }
    Some(())
}

/// Where a failing test's replay file goes: `<target dir>/scheduler-replays/<binary>-<test>.replay`.
/// The target directory is the ancestor of the test binary that holds cargo's `CACHEDIR.TAG`,
/// else `CARGO_TARGET_DIR`; `None` if neither is known (then no file is written).
pub(crate) fn path_for(test: Option<&str>) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))?;
    let binary = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|stem| stem.to_str())
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.len() == 16 => name.to_string(),
            _ => stem.to_string(),
        })
        .unwrap_or_else(|| "test".to_string());
    let name: String = format!("{binary}-{}", test.unwrap_or("main"))
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(
        target
            .join("scheduler-replays")
            .join(format!("{name}.replay")),
    )
}

/// Writes `file` to `path` (creating its directory); `command` goes into its header comment.
pub(crate) fn write(path: &Path, file: &ReplayFile, command: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, file.to_text(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_stays_small() {
        let file = ReplayFile {
            test: Some("tests::lost_update".to_string()),
            strategy: Strategy::Pct {
                depth: 2,
                steps: 20,
            },
            seed: 17,
            schedulers: vec![
                Recording {
                    choices: [vec![1, 2, 2, 2, 1], vec![3; 100]].concat(),
                    draws: vec![
                        Draw {
                            task: 2,
                            start: 0,
                            end: 10,
                            value: 4,
                        },
                        Draw {
                            task: 0,
                            start: 10,
                            end: 1001,
                            value: 512,
                        },
                        Draw {
                            task: 2,
                            start: 0,
                            end: 10,
                            value: 7,
                        },
                    ],
                },
                Recording::default(),
            ],
        };
        let text = file.to_text("REPLAY=x cargo test");
        assert!(text.contains("choices 1 2*3 1 3*100\n"), "{text}");
        assert!(text.contains("draw 2 0..10 4 7\n"), "{text}");
        let parsed = ReplayFile::parse(&text, "x").unwrap();
        // Draws come back grouped by task and range; the order within each group is kept.
        assert_eq!(parsed.schedulers[0].choices, file.schedulers[0].choices);
        assert_eq!(parsed.schedulers[0].draws.len(), 3);
        assert_eq!(
            (parsed.test, parsed.strategy, parsed.seed),
            (file.test, file.strategy, 17)
        );
        assert_eq!(parsed.schedulers[1], Recording::default());
        assert!(text.len() < 400, "{} bytes", text.len());
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        let error = ReplayFile::parse("hello", "f.replay").unwrap_err();
        assert!(error.contains("not a replay file"), "{error}");
        let error = ReplayFile::parse(
            "scheduler-replay 1\nstrategy random\nseed 1\nchoices 1",
            "f",
        )
        .unwrap_err();
        assert!(
            error.contains("f:4: before any `scheduler` line"),
            "{error}"
        );
        let error = ReplayFile::parse("scheduler-replay 1\nseed x", "f").unwrap_err();
        assert!(error.contains("bad seed"), "{error}");
    }
}

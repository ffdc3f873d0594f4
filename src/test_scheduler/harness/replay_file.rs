//! Replay files: the schedule of a failing seed, written under the cargo target directory, read
//! back by `REPLAY=<file>`. A small line-based text format (no serde):
//!
//! ```text
//! # comment lines start with '#'
//! scheduler-replay 1            format version
//! test exploration::lost_update  the test (thread name); REPLAY applies only to it
//! strategy pct:2:20             the strategy (see Strategy's text form)
//! seed 17                       the seed
//! call 2                        which harness call of the test failed (only it replays)
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

/// What a replay file may hold, so that a corrupted one is a clear error rather than an
/// allocation that aborts the process (`choices 1*1000000000000` asked for 8 TB). A recording
/// past these (a failing schedule with more than 16 million choice points) is not replayable.
const MAX_FILE_BYTES: u64 = 64 << 20;
/// Choices in all of a file's `scheduler` sections (8 bytes each once read).
const MAX_CHOICES: usize = 1 << 24;
/// Drawn values in all of a file's sections (32 bytes each once read).
const MAX_DRAWS: usize = 1 << 20;
/// `scheduler` sections.
const MAX_SCHEDULERS: usize = 1 << 16;
/// How much of a bad line an error quotes.
const QUOTED: usize = 80;

/// A failing schedule, as written to and read from a replay file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReplayFile {
    /// The test that wrote it (its thread name), if known.
    pub(crate) test: Option<String>,
    pub(crate) strategy: Strategy,
    pub(crate) seed: u64,
    /// Which harness call of the test failed (`many` / `run_seeds`, counted from 1 on the test's
    /// thread): only that call replays the file. `None` (files before this line existed): every
    /// call.
    pub(crate) call: Option<u64>,
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
        if let Some(call) = self.call {
            let _ = writeln!(text, "call {call}");
        }
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
        let (mut test, mut strategy, mut seed, mut call) = (None, None, None, None);
        let mut schedulers: Vec<Recording> = Vec::new();
        // What the file holds so far, against the MAX_ bounds.
        let (mut choices, mut draws) = (0usize, 0usize);
        for (number, line) in lines {
            let error = |what: &str| {
                let quoted = match line.char_indices().nth(QUOTED) {
                    Some((end, _)) => format!("{:?}...", &line[..end]),
                    None => format!("{line:?}"),
                };
                format!("{origin}:{number}: {what}: {quoted}")
            };
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "test" => test = Some(rest.to_string()),
                "strategy" => {
                    let parsed = rest.parse::<Strategy>();
                    strategy = Some(parsed.map_err(|why| error(&format!("bad strategy ({why})")))?)
                }
                "seed" => seed = Some(rest.parse().map_err(|_| error("bad seed"))?),
                "call" => match rest.parse::<u64>() {
                    Ok(number) if number >= 1 => call = Some(number),
                    _ => return Err(error("bad call (the harness call of the test, from 1)")),
                },
                "scheduler" => {
                    if schedulers.len() == MAX_SCHEDULERS {
                        let what = format!("more than {MAX_SCHEDULERS} `scheduler` sections");
                        return Err(error(&what));
                    }
                    schedulers.push(Recording::default())
                }
                "choices" | "draw" => {
                    let recording = schedulers
                        .last_mut()
                        .ok_or_else(|| error("before any `scheduler` line"))?;
                    if key == "choices" {
                        parse_choices(rest, &mut recording.choices, &mut choices)
                            .map_err(|what| error(&what))?;
                    } else {
                        parse_draws(rest, &mut recording.draws, &mut draws)
                            .map_err(|what| error(&what))?;
                    }
                }
                _ => return Err(error("unknown line")),
            }
        }
        Ok(Self {
            test,
            strategy: strategy.ok_or_else(|| format!("{origin}: no strategy line"))?,
            seed: seed.ok_or_else(|| format!("{origin}: no seed line"))?,
            call,
            schedulers,
        })
    }

    /// Reads and parses the file at `path`; errors start with `REPLAY=<path>`.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let origin = format!("REPLAY={}", path.display());
        let size = std::fs::metadata(path)
            .map_err(|error| format!("{origin}: {error}"))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(format!(
                "{origin}: {size} bytes is not a replay file (at most {MAX_FILE_BYTES})"
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|error| format!("{origin}: {error}"))?;
        Self::parse(&text, &origin)
    }
}

/// Parses a `choices` line's tokens (`3`, `2*40`) onto `choices`; `total` counts the choices of
/// the whole file against [`MAX_CHOICES`].
fn parse_choices(text: &str, choices: &mut Vec<u64>, total: &mut usize) -> Result<(), String> {
    for token in text.split_whitespace() {
        let bad = || format!("bad choices token {token:?} (a task id, or id*count)");
        let (task, count): (u64, usize) = match token.split_once('*') {
            Some((task, count)) => (
                task.parse().map_err(|_| bad())?,
                count.parse().map_err(|_| bad())?,
            ),
            None => (token.parse().map_err(|_| bad())?, 1),
        };
        let room = MAX_CHOICES - *total;
        if count > room {
            return Err(format!(
                "a run of {count} choices makes more than a replay file holds ({MAX_CHOICES} \
                 choices in all)"
            ));
        }
        choices
            .try_reserve(count)
            .map_err(|error| format!("{count} choices: {error}"))?;
        choices.extend(std::iter::repeat_n(task, count));
        *total += count;
    }
    Ok(())
}

/// Parses a `draw` line (`task start..end value...`) onto `draws`; `total` counts the draws of
/// the whole file against [`MAX_DRAWS`].
fn parse_draws(text: &str, draws: &mut Vec<Draw>, total: &mut usize) -> Result<(), String> {
    let bad = || "bad draw (task start..end value...)".to_string();
    let mut tokens = text.split_whitespace();
    let task = tokens.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let (start, end) = tokens
        .next()
        .ok_or_else(bad)?
        .split_once("..")
        .ok_or_else(bad)?;
    let (start, end) = (
        start.parse().map_err(|_| bad())?,
        end.parse().map_err(|_| bad())?,
    );
    for value in tokens {
        if *total == MAX_DRAWS {
            return Err(format!("more than {MAX_DRAWS} drawn values in the file"));
        }
        draws.push(Draw {
            task,
            start,
            end,
            value: value.parse().map_err(|_| bad())?,
        });
        *total += 1;
    }
    Ok(())
}

/// Where a failing test's replay file goes:
/// `<target dir>/scheduler-replays/<package>-<binary>-<test>.replay` (the package as cargo
/// names it in `CARGO_PKG_NAME`; left out when that is not set).
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
    // The package too: two packages may have test binaries and tests of the same names.
    let package = std::env::var("CARGO_PKG_NAME")
        .map(|package| format!("{package}-"))
        .unwrap_or_default();
    let name: String = format!("{package}{binary}-{}", test.unwrap_or("main"))
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
            call: Some(2),
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
            (parsed.test, parsed.strategy, parsed.seed, parsed.call),
            (file.test, file.strategy, 17, Some(2))
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

    fn with_line(line: &str) -> String {
        format!("scheduler-replay 1\nstrategy random\nseed 1\nscheduler\n{line}\n")
    }

    /// Issue 20, defect 6: `choices 1*1000000000000` made the harness allocate 8 TB and abort.
    /// Run lengths, draws and sections are bounded; a file past them is a clear error naming
    /// the file and the line.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "parses runs of millions of entries: hours under Miri, and no unsafe code here"
    )]
    fn corrupted_run_lengths_and_sizes_are_clear_errors_not_allocations() {
        let origin = "REPLAY=x.replay";
        let error = ReplayFile::parse(&with_line("choices 1*1000000000000"), origin).unwrap_err();
        assert!(
            error.starts_with("REPLAY=x.replay:5: a run of 1000000000000 choices makes more than a replay file holds"),
            "{error}"
        );
        let error =
            ReplayFile::parse(&with_line("choices 1*99999999999999999999999"), origin).unwrap_err();
        assert!(error.contains(":5: bad choices token"), "{error}");
        // Runs add up across lines and sections.
        let half = MAX_CHOICES / 2 + 1;
        let text = with_line(&format!("choices 1*{half}\nscheduler\nchoices 2*{half}"));
        let error = ReplayFile::parse(&text, origin).unwrap_err();
        assert!(error.contains(":7: a run of"), "{error}");
        let many = vec!["7"; MAX_DRAWS + 1].join(" ");
        let error =
            ReplayFile::parse(&with_line(&format!("draw 1 0..10 {many}")), origin).unwrap_err();
        assert!(error.contains("drawn values"), "{error}");
        assert!(error.len() < 400, "the bad line is quoted short: {error}");
        let sections = "scheduler\n".repeat(MAX_SCHEDULERS + 1);
        let error = ReplayFile::parse(&with_line(&sections), origin).unwrap_err();
        assert!(error.contains("`scheduler` sections"), "{error}");
        let error = ReplayFile::parse(&with_line("call 0"), origin).unwrap_err();
        assert!(error.contains("bad call"), "{error}");
        // Within the bounds, a long run is fine.
        let file = ReplayFile::parse(&with_line("choices 3*100000"), origin).unwrap();
        assert_eq!(file.schedulers[0].choices.len(), 100_000);
    }

    /// Issue 20, defect 7, in a replay file: the strategy line is checked like `STRATEGY=`.
    #[test]
    fn an_out_of_range_strategy_line_is_a_clear_error() {
        let text = "scheduler-replay 1\nstrategy pct:4294967295:18446744073709551615\nseed 1\n";
        let error = ReplayFile::parse(text, "REPLAY=f").unwrap_err();
        assert!(error.starts_with("REPLAY=f:2: bad strategy"), "{error}");
        assert!(error.contains("outside 1..=32"), "{error}");
    }
}

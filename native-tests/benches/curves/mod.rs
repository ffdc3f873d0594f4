//! Cost curves: CSV files and SVG charts of the benchmarks (issue 11), and the printed targets.
//!
//! Shared by path (`#[path = ...] mod curves;`) by the bench targets (`benches/test_scheduler.rs`,
//! `benches/native/`) and by `examples/render_curves.rs`, which renders the CSV files the wasm
//! and Worker benchmarks write (`scripts/bench-wasm.sh`, `scripts/bench-worker.sh`).
//!
//! A chart is one scenario family: one line per executor (median of the rounds, with a min-max
//! bar at every point) against the size of the run. [`Chart::save`] writes `<id>.csv` and
//! `<id>.svg` to [`results_dir`] (`$CARGO_TARGET_DIR/bench-results`, default
//! `target/bench-results`), and copies both to `$CHARTS_DIR` when it is set (relative to the
//! repository root; `CHARTS_DIR=docs/perf` updates the charts the README links).
//!
//! The CSV format (what the wasm and Worker scripts write too):
//!
//! ```text
//! # title: TestScheduler: spawn N trivial tasks, then run_until_parked (random order)
//! # x: tasks
//! # y: ns/task
//! # scale: log-x log-y
//! series,x,median,min,max,samples
//! TestScheduler,1000,412.5,398.1,433.0,7
//! ```
#![allow(dead_code)] // each includer uses part of it

use plotters::prelude::*;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One point of a series: the median of its samples and their spread.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: usize,
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// One chart: a scenario family.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem of the CSV and SVG.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

impl Chart {
    /// An empty chart with log-scaled axes.
    pub fn new(id: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            log_x: true,
            log_y: true,
            series: Vec::new(),
        }
    }

    /// A linear y axis.
    pub fn linear_y(mut self) -> Self {
        self.log_y = false;
        self
    }

    /// Adds the point `x` of `series` from its samples (ignored when there are none).
    pub fn add(&mut self, series: &str, x: f64, samples: &[f64]) {
        if samples.is_empty() {
            return;
        }
        let (min, max) = min_max(samples);
        let point = Point {
            x,
            median: median(samples),
            min,
            max,
            samples: samples.len(),
        };
        self.push(series, point);
    }

    fn push(&mut self, series: &str, point: Point) {
        match self.series.iter_mut().find(|s| s.name == series) {
            Some(s) => s.points.push(point),
            None => self.series.push(Series {
                name: series.to_owned(),
                points: vec![point],
            }),
        }
    }

    /// The median of `series` at `x`, if measured.
    pub fn median_at(&self, series: &str, x: f64) -> Option<f64> {
        self.series
            .iter()
            .find(|s| s.name == series)?
            .points
            .iter()
            .find(|p| p.x == x)
            .map(|p| p.median)
    }

    /// The chart as CSV (see the module docs).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# title: {}", self.title);
        let _ = writeln!(out, "# x: {}", self.x_label);
        let _ = writeln!(out, "# y: {}", self.y_label);
        let scale = match (self.log_x, self.log_y) {
            (true, true) => "log-x log-y",
            (true, false) => "log-x",
            (false, true) => "log-y",
            (false, false) => "linear",
        };
        let _ = writeln!(out, "# scale: {scale}");
        let _ = writeln!(out, "series,x,median,min,max,samples");
        for series in &self.series {
            for p in &series.points {
                let _ = writeln!(
                    out,
                    "{},{},{:.3},{:.3},{:.3},{}",
                    series.name, p.x, p.median, p.min, p.max, p.samples
                );
            }
        }
        out
    }

    /// Parses what [`to_csv`](Self::to_csv) wrote; `id` names the chart.
    pub fn from_csv(id: &str, text: &str) -> Result<Self, String> {
        let mut chart = Chart::new(id, id, "x", "y");
        chart.log_x = false;
        chart.log_y = false;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("series,") {
                continue;
            }
            if let Some(meta) = line.strip_prefix('#') {
                let (key, value) = meta.split_once(':').unwrap_or((meta, ""));
                let value = value.trim().to_owned();
                match key.trim() {
                    "title" => chart.title = value,
                    "x" => chart.x_label = value,
                    "y" => chart.y_label = value,
                    "scale" => {
                        chart.log_x = value.contains("log-x");
                        chart.log_y = value.contains("log-y");
                    }
                    _ => {}
                }
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            let bad = || {
                format!(
                    "line {}: expected series,x,median,min,max[,samples]: {line}",
                    number + 1
                )
            };
            if fields.len() < 5 {
                return Err(bad());
            }
            let number_at = |i: usize| fields[i].trim().parse::<f64>().map_err(|_| bad());
            let point = Point {
                x: number_at(1)?,
                median: number_at(2)?,
                min: number_at(3)?,
                max: number_at(4)?,
                samples: fields
                    .get(5)
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1),
            };
            chart.push(fields[0].trim(), point);
        }
        Ok(chart)
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (900, 540)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let x = padded(self.values(|p| [p.x, p.x]), self.log_x, 0.02);
            let y = padded(self.values(|p| [p.min, p.max]), self.log_y, 0.08);
            // Ticks: at every measured x; on a log y axis at 1-2-5 (or finer) steps.
            let mut xs = self.values(|p| [p.x, p.x]);
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            let y_ticks = log_ticks(&y);
            match (self.log_x, self.log_y) {
                (true, true) => self.draw(
                    &root,
                    x.log_scale().with_key_points(xs),
                    y.log_scale().with_key_points(y_ticks),
                ),
                (true, false) => self.draw(&root, x.log_scale().with_key_points(xs), y),
                (false, true) => self.draw(&root, x, y.log_scale().with_key_points(y_ticks)),
                (false, false) => self.draw(&root, x, y),
            }?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    fn values(&self, of: impl Fn(&Point) -> [f64; 2]) -> Vec<f64> {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(&of))
            .filter(|v| v.is_finite())
            .collect()
    }

    fn draw<X, Y>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        x: X,
        y: Y,
    ) -> Result<(), String>
    where
        X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
        Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(16)
            .margin_right(32)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| short(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(&e))?;
        for (index, series) in self.series.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let style = ShapeStyle::from(&color).stroke_width(2);
            let line = series.points.iter().map(|p| (p.x, p.median));
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(|e| err(&e))?
                .label(&series.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart
                .draw_series(
                    series
                        .points
                        .iter()
                        .map(|p| Circle::new((p.x, p.median), 3, color.filled())),
                )
                .map_err(|e| err(&e))?;
            chart
                .draw_series(series.points.iter().filter(|p| p.max > p.min).map(|p| {
                    ErrorBar::new_vertical(p.x, p.min, p.median, p.max, color.stroke_width(1), 8)
                }))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    }

    /// Writes `<id>.csv` and `<id>.svg` to [`results_dir`], copies them to `$CHARTS_DIR` when
    /// set, and prints where they are.
    pub fn save(&self) {
        let written = save_to(&results_dir(), &self.id, &self.to_csv(), self.to_svg());
        if let Some(charts) = charts_dir() {
            save_to(&charts, &self.id, &self.to_csv(), self.to_svg());
        }
        if let Some(svg) = written {
            println!("chart: {}", svg.display());
        }
    }
}

fn save_to(dir: &Path, id: &str, csv: &str, svg: Result<String, String>) -> Option<PathBuf> {
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        return None;
    }
    let csv_path = dir.join(format!("{id}.csv"));
    if let Err(error) = std::fs::write(&csv_path, csv) {
        eprintln!("cannot write {}: {error}", csv_path.display());
    }
    let svg_path = dir.join(format!("{id}.svg"));
    match svg {
        Ok(svg) => match std::fs::write(&svg_path, svg) {
            Ok(()) => Some(svg_path),
            Err(error) => {
                eprintln!("cannot write {}: {error}", svg_path.display());
                None
            }
        },
        Err(error) => {
            eprintln!("cannot draw {id}: {error}");
            None
        }
    }
}

/// The repository root (the workspace of `native-tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("native-tests lives in the workspace")
        .to_path_buf()
}

/// `$CARGO_TARGET_DIR/bench-results` (relative to the repository root), default
/// `target/bench-results`.
pub fn results_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    workspace_root().join(target).join("bench-results")
}

/// `$CHARTS_DIR` (relative to the repository root), if set and not empty.
pub fn charts_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CHARTS_DIR").filter(|dir| !dir.is_empty())?;
    Some(workspace_root().join(dir))
}

/// The axis range over `values`, padded by `pad` of its span (a factor on a log axis).
fn padded(values: Vec<f64>, log: bool, pad: f64) -> Range<f64> {
    let (mut low, mut high) = min_max(&values);
    if !low.is_finite() || !high.is_finite() {
        return 1.0..10.0;
    }
    if log {
        low = low.max(1e-3);
        high = high.max(low * 1.01);
        let factor = (high / low).powf(pad).max(1.0) * if pad > 0.0 { 1.15 } else { 1.0 };
        low / factor..high * factor
    } else {
        // From zero (or below it), so heights compare at a glance.
        let span = (high - low.min(0.0)).max(1e-9);
        low.min(0.0)..high + span * pad
    }
}

/// Tick values for a log axis over `range`: 1, 2, 5 times the powers of ten inside it, or a
/// finer series when that gives fewer than four.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let in_range = |steps: &[f64]| -> Vec<f64> {
        let (low, high) = (range.start.max(1e-9), range.end);
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(low.log10().floor());
        while decade <= high {
            for step in steps {
                let tick = decade * step;
                if tick >= low && tick <= high {
                    ticks.push(tick);
                }
            }
            decade *= 10.0;
        }
        ticks
    };
    let coarse = in_range(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 4 {
        return coarse;
    }
    in_range(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
}

/// 1000 -> "1k", 2500000 -> "2.5M", 0.25 -> "0.25".
pub fn short(value: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{}G", trim(format!("{:.2}", value / 1e9)))
    } else if magnitude >= 1e6 {
        format!("{}M", trim(format!("{:.2}", value / 1e6)))
    } else if magnitude >= 1e3 {
        format!("{}k", trim(format!("{:.1}", value / 1e3)))
    } else if magnitude >= 10.0 {
        format!("{value:.0}")
    } else {
        trim(format!("{value:.2}"))
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.is_empty() {
        f64::NAN
    } else if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// The smallest and largest value.
pub fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(min, max), &v| {
            (min.min(v), max.max(v))
        })
}

/// The targets (issues 11 and 21) as a bench measured them: printed with "met" or "missed" (a
/// benchmark never fails), and written to `<id>.targets.csv` next to the charts.
pub struct Targets {
    id: String,
    rows: Vec<(String, String, bool)>,
}

impl Targets {
    /// No targets yet; `id` names the file.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            rows: Vec::new(),
        }
    }

    /// A target `what` (e.g. "f(1M) <= 1.25x floor"), what was measured (e.g. "1.83x"), and
    /// whether it was met.
    pub fn check(&mut self, what: &str, measured: String, met: bool) {
        self.rows.push((what.to_owned(), measured, met));
    }

    /// Prints the table, writes `<id>.targets.csv` (and copies it to `$CHARTS_DIR`).
    pub fn finish(&self) {
        if self.rows.is_empty() {
            return;
        }
        println!("\ntargets, ours / peer of the medians:");
        let mut csv = String::from("target,measured,verdict\n");
        for (what, measured, met) in &self.rows {
            let verdict = if *met { "met" } else { "missed" };
            println!("  {what:<44} {measured:>28}  {verdict}");
            let _ = writeln!(csv, "\"{what}\",\"{measured}\",{verdict}");
        }
        let mut dirs = vec![results_dir()];
        dirs.extend(charts_dir());
        for dir in dirs {
            let path = dir.join(format!("{}.targets.csv", self.id));
            if let Err(error) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &csv))
            {
                eprintln!("cannot write {}: {error}", path.display());
            }
        }
    }
}

/// "1.23x" (three significant digits for small ratios).
pub fn ratio(value: f64) -> String {
    if value < 0.01 {
        format!("{value:.2e}x")
    } else {
        format!("{value:.2}x")
    }
}

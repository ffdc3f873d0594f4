//! Renders cost-curve CSV files (the format of `benches/curves/mod.rs`) as SVG charts: each
//! `DIR/NAME.csv` becomes `DIR/NAME.svg`, and both are copied to `$CHARTS_DIR` when it is set
//! (relative to the repository root). Prints each chart as a table too: the medians at every
//! x, and the first series over each other one. `scripts/bench-wasm.sh` and `scripts/bench-worker.sh`
//! call it for the curves they measure outside Rust's bench harness.
//!
//! ```text
//! cargo run -p native-tests --example render_curves -- target/bench-results/wasm_wa.csv
//! ```

#[path = "../benches/curves/mod.rs"]
mod curves;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: render_curves FILE.csv...");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for path in paths {
        let path = Path::new(&path);
        let id = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("chart");
        let chart = std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| curves::Chart::from_csv(id, &text));
        let svg = chart
            .as_ref()
            .map_err(Clone::clone)
            .and_then(curves::Chart::to_svg);
        match (chart, svg) {
            (Ok(chart), Ok(svg)) => {
                let out = path.with_extension("svg");
                if let Err(error) = std::fs::write(&out, &svg) {
                    eprintln!("{}: {error}", out.display());
                    failed = true;
                    continue;
                }
                print_table(&chart);
                println!("chart: {}", out.display());
                if let Some(dir) = curves::charts_dir() {
                    let copied = std::fs::create_dir_all(&dir)
                        .and_then(|()| std::fs::write(dir.join(format!("{id}.svg")), &svg))
                        .and_then(|()| {
                            std::fs::write(dir.join(format!("{id}.csv")), chart.to_csv())
                        });
                    if let Err(error) = copied {
                        eprintln!("{}: {error}", dir.display());
                        failed = true;
                    }
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("{}: {error}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The chart as a table: one row per x, one column per series (median [min-max]), and the
/// first series over each other one.
fn print_table(chart: &curves::Chart) {
    println!(
        "{} — {} against {}",
        chart.title, chart.y_label, chart.x_label
    );
    let Some(first) = chart.series.first() else {
        return;
    };
    let mut xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|series| series.points.iter().map(|point| point.x))
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    print!("  {:>8}", chart.x_label);
    for series in &chart.series {
        print!(" {:>30}", series.name);
    }
    println!();
    for x in xs {
        print!("  {:>8}", curves::short(x));
        let ours = chart.median_at(&first.name, x);
        for series in &chart.series {
            let Some(point) = series.points.iter().find(|point| point.x == x) else {
                print!(" {:>30}", "-");
                continue;
            };
            let spread = format!("{:.1} [{:.1}-{:.1}]", point.median, point.min, point.max);
            let cell = match ours {
                Some(ours) if series.name != first.name && point.median > 0.0 => {
                    format!("{spread} {}", curves::ratio(ours / point.median))
                }
                _ => spread,
            };
            print!(" {cell:>30}");
        }
        println!();
    }
    println!("  (after a peer's figures: {} / that peer)", first.name);
}

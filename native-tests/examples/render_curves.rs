//! Renders cost-curve CSV files (the format of `benches/curves/mod.rs`) as SVG charts: each
//! `DIR/NAME.csv` becomes `DIR/NAME.svg`, and both are copied to `$CHARTS_DIR` when it is set
//! (relative to the repository root). `scripts/bench-wasm.sh` and `scripts/bench-worker.sh`
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

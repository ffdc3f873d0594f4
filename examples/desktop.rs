//! A GPUI-style desktop app on the `LinuxScheduler`: a calloop main loop drives the "UI"
//! (foreground tasks), background tasks hash every file under a directory, progress flows back
//! to the main thread, and a timer-driven status line reports it until a summary is printed.
//!
//! ```text
//! cargo run --release --example desktop -- <directory>
//! ```
//!
//! Exit status: 0 when every file was hashed, 1 when some could not be read, 2 on bad usage or
//! a missing/unreadable directory.

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn main() -> std::process::ExitCode {
    app::main()
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn main() {
    eprintln!("the desktop example runs on the LinuxScheduler (Linux or FreeBSD) only");
    std::process::exit(2);
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod app {
    use futures::StreamExt as _;
    use futures::channel::mpsc;
    use scheduler::platform::LinuxScheduler;
    use scheduler::{BackgroundExecutor, ForegroundExecutor, Task};
    use std::cell::RefCell;
    use std::hash::Hasher as _;
    use std::io::Read as _;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    /// How often the status line is refreshed.
    const STATUS_INTERVAL: Duration = Duration::from_millis(200);

    /// What a background task reports to the main thread for one file.
    enum Progress {
        Hashed {
            path: PathBuf,
            bytes: u64,
            digest: u64,
        },
        Failed {
            path: PathBuf,
            error: std::io::Error,
        },
    }

    /// The "UI" state: owned by the main thread only (not `Send`, kept in an `Rc`).
    #[derive(Default)]
    struct Ui {
        total_files: Option<usize>,
        hashed: Vec<(PathBuf, u64, u64)>,
        failed: Vec<(PathBuf, std::io::Error)>,
        bytes: u64,
    }

    pub fn main() -> ExitCode {
        let mut args = std::env::args_os().skip(1);
        let (Some(root), None) = (args.next(), args.next()) else {
            eprintln!("usage: desktop <directory>");
            return ExitCode::from(2);
        };
        let root = PathBuf::from(root);
        if let Err(error) = check_directory(&root) {
            eprintln!("error: cannot read directory {}: {error}", root.display());
            return ExitCode::from(2);
        }
        match run(root) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        }
    }

    fn check_directory(root: &Path) -> std::io::Result<()> {
        let metadata = std::fs::metadata(root)?;
        if !metadata.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        std::fs::read_dir(root).map(drop)
    }

    fn run(root: PathBuf) -> std::io::Result<ExitCode> {
        let scheduler = LinuxScheduler::new()?;
        let background = BackgroundExecutor::new(scheduler.clone());
        let foreground = ForegroundExecutor::new(scheduler.clone());

        // The app's own main loop, as in GPUI: the scheduler's main-thread queue is one source.
        let mut event_loop: calloop::EventLoop<'_, ()> = calloop::EventLoop::try_new()?;
        event_loop
            .handle()
            .insert_source(scheduler.main_thread_source()?, |_ran, _, _| {})
            .map_err(|error| error.error)?;
        let signal = event_loop.get_signal();

        let ui = Rc::new(RefCell::new(Ui::default()));
        let started = Instant::now();
        let (progress_tx, mut progress_rx) = mpsc::unbounded::<Progress>();

        // Background: list the files, then hash each one on the pool.
        let listing: Task<Vec<PathBuf>> = background.spawn({
            let background = background.clone();
            async move {
                let files = list_files(&root);
                for path in files.clone() {
                    let progress_tx = progress_tx.clone();
                    background
                        .spawn(async move {
                            let report = match hash_file(&path) {
                                Ok((bytes, digest)) => Progress::Hashed {
                                    path,
                                    bytes,
                                    digest,
                                },
                                Err(error) => Progress::Failed { path, error },
                            };
                            // The receiver lives as long as the app; ignore a closed channel.
                            let _ = progress_tx.unbounded_send(report);
                        })
                        .detach();
                }
                files
            }
        });

        // Foreground: a status line refreshed by a timer until the work is done.
        let status = foreground.spawn({
            let ui = ui.clone();
            let foreground = foreground.clone();
            async move {
                loop {
                    foreground.timer(STATUS_INTERVAL).await;
                    let ui = ui.borrow();
                    let done = ui.hashed.len() + ui.failed.len();
                    match ui.total_files {
                        Some(total) => eprintln!(
                            "[{:>6.2}s] {done}/{total} files, {:.1} MiB",
                            started.elapsed().as_secs_f64(),
                            ui.bytes as f64 / (1024.0 * 1024.0)
                        ),
                        None => eprintln!(
                            "[{:>6.2}s] listing files...",
                            started.elapsed().as_secs_f64()
                        ),
                    }
                }
            }
        });

        // Foreground: apply progress to the UI state; stop the loop when every file reported.
        foreground
            .spawn({
                let ui = ui.clone();
                async move {
                    let files = listing.await;
                    ui.borrow_mut().total_files = Some(files.len());
                    let mut remaining = files.len();
                    while remaining > 0 {
                        let Some(report) = progress_rx.next().await else {
                            break;
                        };
                        remaining -= 1;
                        let mut ui = ui.borrow_mut();
                        match report {
                            Progress::Hashed {
                                path,
                                bytes,
                                digest,
                            } => {
                                ui.bytes += bytes;
                                ui.hashed.push((path, bytes, digest));
                            }
                            Progress::Failed { path, error } => ui.failed.push((path, error)),
                        }
                    }
                    drop(status); // cancels the status line
                    signal.stop();
                }
            })
            .detach();

        event_loop.run(None, &mut (), |_| {})?;
        drop(event_loop);

        let mut ui = ui.borrow_mut();
        Ok(print_summary(&mut ui, started.elapsed()))
    }

    fn list_files(root: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(directory) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                    Ok(kind) if kind.is_file() => files.push(entry.path()),
                    _ => {}
                }
            }
        }
        files.sort();
        files
    }

    /// Size and a 64-bit SipHash digest of the file's contents.
    fn hash_file(path: &Path) -> std::io::Result<(u64, u64)> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = std::hash::DefaultHasher::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.write(&buffer[..read]);
            bytes += read as u64;
        }
        Ok((bytes, hasher.finish()))
    }

    fn print_summary(ui: &mut Ui, elapsed: Duration) -> ExitCode {
        ui.hashed.sort_by(|a, b| a.0.cmp(&b.0));
        // One digest for the whole tree: order-independent of completion, fixed by path order.
        let mut combined = std::hash::DefaultHasher::new();
        for (path, _, digest) in &ui.hashed {
            combined.write(path.as_os_str().as_encoded_bytes());
            combined.write_u64(*digest);
        }
        println!(
            "hashed {} files, {} bytes in {:.3}s; tree digest {:016x}",
            ui.hashed.len(),
            ui.bytes,
            elapsed.as_secs_f64(),
            combined.finish()
        );
        if let Some((path, bytes, digest)) = ui.hashed.iter().max_by_key(|entry| entry.1) {
            println!("largest: {} ({bytes} bytes, {digest:016x})", path.display());
        }
        if ui.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            for (path, error) in &ui.failed {
                eprintln!("error: cannot read {}: {error}", path.display());
            }
            eprintln!("{} files could not be read", ui.failed.len());
            ExitCode::from(1)
        }
    }
}

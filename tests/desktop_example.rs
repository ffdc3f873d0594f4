//! Runs `examples/desktop.rs` (built by `cargo test` next to this test) on a small directory and
//! on a missing path.
#![cfg(any(target_os = "linux", target_os = "freebsd"))]

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/desktop`, built by `cargo test` before tests run.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join("examples").join("desktop");
    assert!(
        binary.exists(),
        "{} is missing: run the whole package's tests (`cargo test -p tandem-scheduler` or \
         `cargo test --workspace`), which build the examples first",
        binary.display()
    );
    binary
}

#[test]
fn desktop_example_hashes_a_directory_and_prints_a_summary() {
    let root = std::env::temp_dir().join(format!("desktop-example-{}", std::process::id()));
    std::fs::create_dir_all(root.join("nested")).expect("temp dir");
    std::fs::write(root.join("a.txt"), b"hello").expect("write");
    std::fs::write(root.join("b.bin"), vec![7u8; 100_000]).expect("write");
    std::fs::write(root.join("nested").join("c.txt"), b"world!").expect("write");

    let output = Command::new(example_binary())
        .arg(&root)
        .output()
        .expect("run the example");
    std::fs::remove_dir_all(&root).expect("clean up");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "status {:?}: {stdout}",
        output.status
    );
    assert!(
        stdout.contains("hashed 3 files, 100011 bytes"),
        "summary: {stdout}"
    );
    assert!(
        stdout.contains("largest:") && stdout.contains("b.bin"),
        "{stdout}"
    );
}

#[test]
fn desktop_example_rejects_a_missing_directory_with_a_clear_error() {
    let output = Command::new(example_binary())
        .arg("/definitely/not/here")
        .output()
        .expect("run the example");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("cannot read directory /definitely/not/here"),
        "stderr: {stderr}"
    );
}

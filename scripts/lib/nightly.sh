# Sourced by the scripts that need nightly Rust: the one pinned nightly of the project, used for
# the wasm32 `panic = "unwind"` builds (-Zbuild-std, which needs `rust-src`) and for Miri.
# scripts/install-tools.sh installs it (sets `unwind` and `miri`). A dated nightly, so a nightly
# that breaks the build or drops Miri never reaches CI unannounced; move it forward on purpose.
SCHEDULER_NIGHTLY="${SCHEDULER_NIGHTLY:-nightly-2026-05-20}"

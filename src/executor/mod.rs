//! The GPUI-style executors apps hold, over `Arc<dyn Scheduler>`: [`BackgroundExecutor`] and
//! [`ForegroundExecutor`] (`background.rs`, `foreground.rs`), and the test-only calls of the
//! `test-support` feature (`test_support.rs`). The dedicated executor is made by a spawn
//! helper, `spawn_dedicated`, with the others in `scheduler/`.

mod background;
mod foreground;
#[cfg(feature = "test-support")]
mod test_support;

pub use background::BackgroundExecutor;
pub use foreground::ForegroundExecutor;

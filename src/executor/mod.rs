//! The GPUI-facing executors over `Arc<dyn Scheduler>`.

mod background;
mod foreground;
#[cfg(feature = "test-support")]
mod test_support;

pub use background::BackgroundExecutor;
pub use foreground::ForegroundExecutor;

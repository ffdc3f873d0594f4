//! The GPUI-facing executors over `Arc<dyn Scheduler>`.

mod background;
mod foreground;

pub use background::BackgroundExecutor;
pub use foreground::ForegroundExecutor;

//! [`LinuxScheduler::run`]: a ready-made calloop main loop for apps that have none.

use super::LinuxScheduler;
use crate::Scheduler;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

impl LinuxScheduler {
    /// Runs a calloop event loop on the main thread, driving this scheduler's foreground tasks,
    /// until `future` (spawned as a foreground task) completes; returns its output.
    ///
    /// Apps with their own `calloop::EventLoop` insert
    /// [`main_thread_source`](Self::main_thread_source) into it instead.
    ///
    /// Panics if called off the main thread. Fails if the event loop cannot be created.
    pub fn run<F>(self: &Arc<Self>, future: F) -> std::io::Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let mut event_loop: calloop::EventLoop<'_, ()> = calloop::EventLoop::try_new()?;
        event_loop
            .handle()
            .insert_source(self.main_thread_source()?, |_ran, _, _| {})
            .map_err(|error| error.error)?;
        let signal = event_loop.get_signal();
        let output = Rc::new(RefCell::new(None));
        let scheduler: Arc<dyn Scheduler> = self.clone();
        scheduler
            .spawn_foreground({
                let output = output.clone();
                async move {
                    let value = future.await;
                    *output.borrow_mut() = Some(value);
                    signal.stop();
                }
            })
            .detach();
        while output.borrow().is_none() {
            event_loop.dispatch(None, &mut ())?;
        }
        let value = output.borrow_mut().take();
        Ok(value.expect("the loop only ends once the output is stored"))
    }
}

//! What a panicking task leaves behind, and the one policy for it: re-raised where the task is
//! awaited, or reported through [`Scheduler::unobserved_panic`] when nobody will await it.

use crate::{Scheduler, TaskMetadata};
use std::any::Any;
use std::sync::Arc;

/// The payload of a caught panic.
pub(crate) type PanicPayload = Box<dyn Any + Send + 'static>;

/// A task's panic, caught by its wrapper. Awaiting the task takes it and re-raises it with the
/// task's id and spawn location; if it is dropped untaken (the task was detached, or its `Task`
/// dropped unawaited), it goes to the scheduler's [`Scheduler::unobserved_panic`] hook.
pub(crate) struct Panicked {
    payload: Option<PanicPayload>,
    metadata: TaskMetadata,
    scheduler: Arc<dyn Scheduler>,
}

impl Panicked {
    pub(crate) fn new(
        payload: PanicPayload,
        metadata: TaskMetadata,
        scheduler: Arc<dyn Scheduler>,
    ) -> Box<Self> {
        Box::new(Self {
            payload: Some(payload),
            metadata,
            scheduler,
        })
    }

    /// Re-raises the panic at the awaiter, naming the task.
    pub(crate) fn resume(self) -> ! {
        let message = self.into_message();
        panic!("{message}")
    }

    /// Takes the panic as the text [`resume`](Self::resume) raises (the task's id, its spawn
    /// location and the panic message): for an awaiter that reports the panic instead of
    /// re-raising it (the Worker's `serve`). Observed, so never reported as unobserved.
    pub(crate) fn into_message(mut self) -> String {
        let payload = self.payload.take().expect("a panic is taken once");
        format!(
            "{} spawned at {} panicked: {}",
            self.metadata.id(),
            self.metadata.location(),
            panic_message(&payload)
        )
    }
}

impl Drop for Panicked {
    fn drop(&mut self) {
        if let Some(payload) = self.payload.take() {
            #[cfg(feature = "tracing")]
            crate::tracing_events::unobserved_panic(&self.metadata, panic_message(&payload));
            self.scheduler
                .unobserved_panic(&self.metadata, panic_message(&payload));
        }
    }
}

/// The text of a panic payload, for re-raising it with context.
pub(crate) fn panic_message(payload: &PanicPayload) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "<non-string panic payload>"
    }
}

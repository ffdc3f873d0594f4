//! [`SimulatedDurableObjectState`]: what a simulated object's instance is given, the
//! simulation's [`DurableObjectState`].

use super::gate::{Gated, Slot};
use super::object::ObjectCore;
use super::storage::SimulatedStorage;
use crate::cloud::LocalFuture;
use crate::cloud::SimulatedExecutionContext;
use crate::cloud::durable_object::{
    DurableObjectFailure, DurableObjectId, DurableObjectState, DurableObjectStorage, LocalBoxFuture,
};
use crate::cloud::execution_context::ExecutionContext;
use crate::session;
use futures::future::{Either, select};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

/// How long a `block_concurrency_while` future may run before the object is reset.
pub const BLOCK_CONCURRENCY_LIMIT: Duration = Duration::from_secs(30);

/// The [`DurableObjectState`] of a simulated object's instance: its id, its simulated storage,
/// `wait_until` (work of the current event's session, behind the object's input gate) and
/// `block_concurrency_while`. Once the instance is lost (reset, eviction), its storage fails
/// every operation.
#[derive(Clone)]
pub struct SimulatedDurableObjectState {
    pub(super) core: Rc<ObjectCore>,
    pub(super) incarnation: u64,
}

impl fmt::Debug for SimulatedDurableObjectState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedDurableObjectState")
            .field("id", &self.core.id)
            .field("incarnation", &self.incarnation)
            .finish_non_exhaustive()
    }
}

impl SimulatedDurableObjectState {
    /// Which instance of the object this is: 0, then one more after each reset or eviction.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The context the object runs in.
    pub fn context(&self) -> &SimulatedExecutionContext {
        &self.core.ctx
    }
}

impl DurableObjectState for SimulatedDurableObjectState {
    fn id(&self) -> DurableObjectId {
        self.core.id.clone()
    }

    fn storage(&self) -> DurableObjectStorage {
        DurableObjectStorage::new(Rc::new(SimulatedStorage {
            core: self.core.clone(),
            incarnation: self.incarnation,
        }))
    }

    /// Registers `future` as `wait_until` work of the current event's session (the 30-second
    /// window after the response applies), behind the object's input gate. Panics outside an
    /// event (no session is current).
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        let id = self.core.next_gate_id();
        let gated = Gated::new(self.core.clone(), id, self.incarnation, future);
        self.core.ctx.wait_until_boxed(Box::pin(async move {
            if let Some(Err(panic)) = gated.await {
                // Recorded as the job's outcome by the context.
                std::panic::resume_unwind(Box::new(panic));
            }
        }));
    }

    fn block_concurrency_while_boxed(
        &self,
        future: LocalBoxFuture<Result<(), String>>,
    ) -> LocalBoxFuture<Result<(), DurableObjectFailure>> {
        let core = self.core.clone();
        let incarnation = self.incarnation;
        if !core.alive(incarnation) {
            let failure = DurableObjectFailure::Reset(core.data().last_reset.clone());
            return Box::pin(std::future::ready(Err(failure)));
        }
        let id = core.next_gate_id();
        // The gate closes now, at the call.
        let hold = core.gate_push(Some(id));
        let slot = Slot::new();
        let filled = slot.clone();
        let scheduler = core.scheduler().clone();
        let timeout = scheduler.timer(BLOCK_CONCURRENCY_LIMIT);
        let gated = Gated::new(core.clone(), id, incarnation, future);
        let task = scheduler.spawn_foreground(async move {
            let outcome = match select(std::pin::pin!(gated), timeout).await {
                Either::Left((Some(Ok(Ok(()))), _)) => Ok(()),
                Either::Left((Some(Ok(Err(error))), _)) => Err(format!(
                    "the block_concurrency_while future failed: {error}"
                )),
                Either::Left((Some(Err(panic)), _)) => Err(format!(
                    "the block_concurrency_while future panicked: {panic}"
                )),
                Either::Left((None, _)) => Err(core.data().last_reset.clone()),
                Either::Right(_) => Err(format!(
                    "the block_concurrency_while future ran past {BLOCK_CONCURRENCY_LIMIT:?}"
                )),
            };
            drop(hold);
            let result = outcome.map_err(|reason| {
                if core.incarnation() == incarnation {
                    core.reset(&reason, session::current());
                }
                DurableObjectFailure::Reset(reason)
            });
            filled.fill(result);
        });
        task.detach();
        Box::pin(std::future::poll_fn(move |cx| slot.poll_take(cx)))
    }
}

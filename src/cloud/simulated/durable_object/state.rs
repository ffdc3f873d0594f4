//! What a simulated object's instance is given: [`SimulatedDurableObjectState`], the
//! simulation's [`DurableObjectState`]; its storage (`SimulatedStorage`); and its futures
//! other than events behind the input gate (`Gated`), with `Slot`, which hands a result from a
//! task to whoever awaits it.

use super::journal::DurableObjectFaultKind;
use super::object::{ObjectCore, YieldOnce};
use crate::cloud::durable_object::{
    DurableObjectFailure, DurableObjectId, DurableObjectState, DurableObjectStorage,
    DurableObjectTransaction, Entries, KeyValueBackend, ListOptions, LocalBoxFuture,
    StorageBackend, StorageError, TransactionBackend, TransactionBody, check_key,
};
use crate::cloud::execution_context::ExecutionContext;
use crate::cloud::{LocalFuture, SimulatedExecutionContext};
use crate::task::panic::panic_message;
use crate::{SystemTime, session};
use futures::future::{Either, select};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
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

// ---- storage -------------------------------------------------------------------------------------
// The simulated storage of one object instance: reads close the input gate until their
// completion comes (a later tick), may fail (then the object is reset), and see the object's
// own unconfirmed writes; writes apply at once and are confirmed by the next flush;
// transactions hold the gate for their whole run and commit as one write.

/// The storage an instance of incarnation `incarnation` is given. Once the instance is lost
/// (reset, eviction), every operation fails.
pub(super) struct SimulatedStorage {
    pub(super) core: Rc<ObjectCore>,
    pub(super) incarnation: u64,
}

impl SimulatedStorage {
    fn check(&self) -> Result<(), StorageError> {
        if self.core.alive(self.incarnation) {
            Ok(())
        } else {
            Err(lost(&self.core))
        }
    }
}

/// The error of an operation on storage of an instance that is gone.
fn lost(core: &ObjectCore) -> StorageError {
    StorageError::Failed(format!(
        "the object's instance is gone (reset: {})",
        core.data().last_reset
    ))
}

/// A read: closes the input gate, completes on a later tick, may fail (resetting the object).
async fn read<T>(
    core: Rc<ObjectCore>,
    incarnation: u64,
    what: String,
    value: impl FnOnce(&super::object::ObjectData) -> T,
) -> Result<T, StorageError> {
    if !core.alive(incarnation) {
        return Err(lost(&core));
    }
    let _hold = core.gate_push(None);
    YieldOnce::default().await;
    if !core.alive(incarnation) {
        return Err(lost(&core));
    }
    let rate = core.ctx.inner.fault_config().object_storage_failure;
    if core.chance(rate) {
        let what = format!("{what} failed");
        let session = session::current();
        core.injected(
            DurableObjectFaultKind::StorageFailure,
            session,
            what.clone(),
        );
        core.reset(&format!("storage failed: {what}"), session);
        return Err(StorageError::Failed(what));
    }
    let data = core.data();
    Ok(value(&data))
}

impl SimulatedStorage {
    /// A write, applied now (so writes made before any await are confirmed together); the
    /// returned future is a storage operation: it holds the input gate from this call until it
    /// completes on a later tick, as awaiting a write does on the platform. Fails if the
    /// instance was reset meanwhile (the write was discarded).
    fn write<T: 'static>(
        &self,
        checked: Result<(), StorageError>,
        apply: impl FnOnce(&Rc<ObjectCore>) -> T,
    ) -> LocalBoxFuture<Result<T, StorageError>> {
        if let Err(error) = checked.and_then(|()| self.check()) {
            return Box::pin(std::future::ready(Err(error)));
        }
        let hold = self.core.gate_push(None);
        let value = apply(&self.core);
        let (core, incarnation) = (self.core.clone(), self.incarnation);
        Box::pin(async move {
            let _hold = hold;
            YieldOnce::default().await;
            if core.alive(incarnation) {
                Ok(value)
            } else {
                Err(lost(&core))
            }
        })
    }
}

/// The entries of `map` that `options` select, in order, at most `limit`.
fn select_entries(map: &BTreeMap<String, Vec<u8>>, options: &ListOptions) -> Entries {
    let entries = map.iter().filter(|(key, _)| options.admits(key));
    let limit = options.limit.unwrap_or(usize::MAX);
    let entries: Vec<_> = if options.reverse {
        entries.rev().take(limit).collect()
    } else {
        entries.take(limit).collect()
    };
    entries
        .into_iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

impl KeyValueBackend for SimulatedStorage {
    fn get(&self, key: &str) -> LocalBoxFuture<Result<Option<Vec<u8>>, StorageError>> {
        let key = key.to_string();
        Box::pin(read(
            self.core.clone(),
            self.incarnation,
            format!("get {key}"),
            move |data| data.cache.get(&key).cloned(),
        ))
    }

    fn put(&self, key: &str, value: Vec<u8>) -> LocalBoxFuture<Result<(), StorageError>> {
        let key = key.to_string();
        self.write(check_key(&key), move |core| {
            core.write(move |data| {
                data.cache.insert(key, value);
            });
        })
    }

    fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        let key = key.to_string();
        self.write(check_key(&key), move |core| {
            let existed = core.data().cache.contains_key(&key);
            if existed {
                core.write(move |data| {
                    data.cache.remove(&key);
                });
            }
            existed
        })
    }

    fn list(&self, options: ListOptions) -> LocalBoxFuture<Result<Entries, StorageError>> {
        Box::pin(read(
            self.core.clone(),
            self.incarnation,
            "list".into(),
            move |data| select_entries(&data.cache, &options),
        ))
    }
}

impl StorageBackend for SimulatedStorage {
    fn transaction(&self, body: TransactionBody) -> LocalBoxFuture<Result<(), StorageError>> {
        let core = self.core.clone();
        let incarnation = self.incarnation;
        Box::pin(async move {
            if !core.alive(incarnation) {
                return Err(lost(&core));
            }
            // The whole transaction is one storage operation: the gate stays closed.
            let _hold = core.gate_push(None);
            let state = Rc::new(TransactionState {
                core: core.clone(),
                incarnation,
                overlay: RefCell::default(),
                rolled_back: Cell::new(false),
            });
            let transaction =
                DurableObjectTransaction::new(Rc::new(SimulatedTransaction(state.clone())));
            let result = body(transaction).await;
            if !core.alive(incarnation) {
                return Err(lost(&core));
            }
            result?;
            if state.rolled_back.get() {
                return Ok(());
            }
            let overlay = std::mem::take(&mut *state.overlay.borrow_mut());
            if !overlay.is_empty() {
                core.write(move |data| {
                    for (key, value) in overlay {
                        match value {
                            Some(value) => data.cache.insert(key, value),
                            None => data.cache.remove(&key),
                        };
                    }
                });
            }
            Ok(())
        })
    }

    fn sync(&self) -> LocalBoxFuture<Result<(), StorageError>> {
        let core = self.core.clone();
        let incarnation = self.incarnation;
        let target = core.data().write_seq;
        Box::pin(async move {
            std::future::poll_fn(|cx| {
                match core.confirmed_or_wait(target, incarnation, cx.waker()) {
                    Some(true) => Poll::Ready(Ok(())),
                    Some(false) => Poll::Ready(Err(lost(&core))),
                    None => Poll::Pending,
                }
            })
            .await
        })
    }

    fn get_alarm(&self) -> LocalBoxFuture<Result<Option<SystemTime>, StorageError>> {
        Box::pin(read(
            self.core.clone(),
            self.incarnation,
            "get_alarm".into(),
            |data| data.cache_alarm,
        ))
    }

    fn set_alarm(&self, at: SystemTime) -> LocalBoxFuture<Result<(), StorageError>> {
        self.write(Ok(()), move |core| core.write_alarm(Some(at)))
    }

    fn delete_alarm(&self) -> LocalBoxFuture<Result<(), StorageError>> {
        self.write(Ok(()), |core| core.write_alarm(None))
    }

    fn now(&self) -> SystemTime {
        self.core.scheduler().utc_now()
    }
}

/// One transaction: its changes (`None`: deleted) over the object's view, until it commits.
struct TransactionState {
    core: Rc<ObjectCore>,
    incarnation: u64,
    overlay: RefCell<BTreeMap<String, Option<Vec<u8>>>>,
    rolled_back: Cell<bool>,
}

impl TransactionState {
    fn check(&self) -> Result<(), StorageError> {
        if self.rolled_back.get() {
            return Err(StorageError::Invalid(
                "the transaction was rolled back".into(),
            ));
        }
        if !self.core.alive(self.incarnation) {
            return Err(lost(&self.core));
        }
        Ok(())
    }

    /// The transaction's view of `key`.
    fn sees(&self, key: &str) -> Option<Vec<u8>> {
        match self.overlay.borrow().get(key) {
            Some(change) => change.clone(),
            None => self.core.data().cache.get(key).cloned(),
        }
    }
}

/// The transaction handle's backend (shares the state with the `transaction` call).
struct SimulatedTransaction(Rc<TransactionState>);

impl KeyValueBackend for SimulatedTransaction {
    fn get(&self, key: &str) -> LocalBoxFuture<Result<Option<Vec<u8>>, StorageError>> {
        let state = self.0.clone();
        let key = key.to_string();
        Box::pin(async move {
            state.check()?;
            let value = read(
                state.core.clone(),
                state.incarnation,
                format!("get {key} in a transaction"),
                |_| (),
            );
            value.await?;
            Ok(state.sees(&key))
        })
    }

    fn put(&self, key: &str, value: Vec<u8>) -> LocalBoxFuture<Result<(), StorageError>> {
        let result = check_key(key).and_then(|()| self.0.check()).map(|()| {
            self.0
                .overlay
                .borrow_mut()
                .insert(key.to_string(), Some(value));
        });
        Box::pin(std::future::ready(result))
    }

    fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        let result = check_key(key).and_then(|()| self.0.check()).map(|()| {
            let existed = self.0.sees(key).is_some();
            self.0.overlay.borrow_mut().insert(key.to_string(), None);
            existed
        });
        Box::pin(std::future::ready(result))
    }

    fn list(&self, options: ListOptions) -> LocalBoxFuture<Result<Entries, StorageError>> {
        let state = self.0.clone();
        Box::pin(async move {
            state.check()?;
            let read = read(
                state.core.clone(),
                state.incarnation,
                "list in a transaction".into(),
                |data| data.cache.clone(),
            );
            let mut view = read.await?;
            for (key, change) in state.overlay.borrow().iter() {
                match change {
                    Some(value) => view.insert(key.clone(), value.clone()),
                    None => view.remove(key),
                };
            }
            Ok(select_entries(&view, &options))
        })
    }
}

impl TransactionBackend for SimulatedTransaction {
    fn rollback(&self) -> Result<(), StorageError> {
        self.0.check()?;
        self.0.rolled_back.set(true);
        self.0.overlay.borrow_mut().clear();
        Ok(())
    }
}

// ---- gate ----------------------------------------------------------------------------------------
// The object's futures other than events behind its input gate ([`Gated`]: `wait_until`
// work, `block_concurrency_while` futures), and [`Slot`], which hands a result from a task to
// whoever awaits it.

/// A future of the object behind its input gate (`wait_until` work, a
/// `block_concurrency_while` future): polled only while the gate is open or held by it;
/// `None` once the instance it belongs to is gone; a panic is caught as `Err(message)`.
pub(super) struct Gated<F> {
    core: Rc<ObjectCore>,
    id: u64,
    incarnation: u64,
    future: Pin<Box<F>>,
}

impl<F: Future> Gated<F> {
    pub(super) fn new(core: Rc<ObjectCore>, id: u64, incarnation: u64, future: F) -> Self {
        core.data_mut().live_gated += 1;
        Self {
            core,
            id,
            incarnation,
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = Option<Result<F::Output, String>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.core.alive(this.incarnation) {
            return Poll::Ready(None);
        }
        if !this.core.gate_allows(this.id) {
            this.core.wait_for_gate(cx.waker());
            return Poll::Pending;
        }
        let future = &mut this.future;
        let polled = this.core.polling_as(this.id, || {
            catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Some(Ok(output))),
            Err(payload) => Poll::Ready(Some(Err(panic_message(&payload).to_string()))),
        }
    }
}

impl<F> Drop for Gated<F> {
    fn drop(&mut self) {
        self.core.data_mut().live_gated -= 1;
    }
}

/// A result handed from a task to whoever awaits it.
pub(super) struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    pub(super) fn new() -> Rc<Self> {
        Rc::new(Self {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    /// Stores `value` (unless one is there) and wakes the waiter.
    pub(super) fn fill(&self, value: T) {
        {
            let mut slot = self.value.borrow_mut();
            if slot.is_some() {
                return;
            }
            *slot = Some(value);
        }
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    pub(super) fn is_filled(&self) -> bool {
        self.value.borrow().is_some()
    }

    pub(super) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        match self.value.borrow_mut().take() {
            Some(value) => Poll::Ready(value),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

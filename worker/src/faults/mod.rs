//! Store faults injected on purpose: [`InjectingStore`] wraps an [`EventStore`] (Workers KV in
//! the Worker, a [`MemoryStore`](crate::ingest::MemoryStore) in simulation) and asks a
//! [`FaultPoints`] before each call what to do: proceed, fail, stall before the call, or stall
//! its answer. Two sources decide, through the same wrapper:
//! - in the Worker, for the "Worker under faults" suite (`scripts/test.d/70-worker-faults.sh`),
//!   a [`FaultInjector`] following a [`FaultPlan`] (its own seeded generator);
//! - in simulation, the `SimulatedExecutionContext`'s fault points
//!   ([`InjectingStore::with_fault_points`]), drawn from the `TestScheduler`'s seed with the
//!   rates of its `SimulationFaults`.
//!
//! In the Worker the plan is set per isolate through `POST /debug/faults`, a dev route
//! (`crate::dev`) that a deployment does not mount; until then (and always when deployed) the
//! plan is off and every call goes straight to the store. The handler (`ingest/`) is not
//! touched: it sees a store that misbehaves.
//!
//! What a call can do, decided when it starts, from one seeded generator (the same seed gives
//! the same sequence of decisions; which call gets which decision depends on the order the
//! host runs them in):
//! - **fail**: nothing reaches the store; the call returns a [`StoreError`] naming the key and
//!   saying "injected failure";
//! - **stall before**: the call waits, then reaches the store. Given up on while waiting (the
//!   handler gives up after [`STORE_TIMEOUT`]), it never reaches the store;
//! - **stall after**: the call reaches the store at once, then its answer waits. Given up on
//!   while waiting, its write has landed although the caller never hears so (a lost answer).
//!
//! A write that lands *after* the caller gave up on it (KV's eventual consistency across
//! isolates) is not injected: the handler documents counts under it as best-effort.

use crate::ingest::{EventStore, STORE_TIMEOUT, StoreError};
use scheduler::Scheduler;
use scheduler::cloud::{FaultAction, FaultPoint, FaultPoints};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The longest stall a plan may ask for.
pub const MAX_STALL: Duration = Duration::from_secs(60);

/// Which faults to inject, and how often. All rates are probabilities per store call; the
/// default plan injects nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Seeds the generator that decides each call's fault.
    pub seed: u64,
    /// The share of `get`s that fail.
    pub get_failure: f64,
    /// The share of `put`s that fail.
    pub put_failure: f64,
    /// The share of calls (not failed) that stall.
    pub stall: f64,
    /// The shortest stall, in milliseconds.
    pub stall_min_ms: u64,
    /// The longest stall, in milliseconds (at most [`MAX_STALL`]).
    pub stall_max_ms: u64,
    /// The share of stalls that come after the call reached the store (its answer is late)
    /// rather than before.
    pub stall_after: f64,
}

impl FaultPlan {
    /// Checks the rates (0 to 1) and the stall range.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("get_failure", self.get_failure),
            ("put_failure", self.put_failure),
            ("stall", self.stall),
            ("stall_after", self.stall_after),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("`{name}` must be between 0 and 1, found {rate}"));
            }
        }
        if self.stall_min_ms > self.stall_max_ms {
            return Err(format!(
                "`stall_min_ms` ({}) must not exceed `stall_max_ms` ({})",
                self.stall_min_ms, self.stall_max_ms
            ));
        }
        if Duration::from_millis(self.stall_max_ms) > MAX_STALL {
            return Err(format!(
                "`stall_max_ms` must be at most {} ms, found {}",
                MAX_STALL.as_millis(),
                self.stall_max_ms
            ));
        }
        Ok(())
    }

    /// Whether the plan injects anything.
    pub fn is_active(&self) -> bool {
        self.get_failure > 0.0 || self.put_failure > 0.0 || self.stall > 0.0
    }
}

/// What the injector did since its plan was set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// `get`s seen.
    pub gets: u64,
    /// `put`s seen.
    pub puts: u64,
    /// `get`s failed on purpose.
    pub failed_gets: u64,
    /// `put`s failed on purpose.
    pub failed_puts: u64,
    /// Calls stalled before reaching the store.
    pub stalls_before: u64,
    /// Calls stalled after reaching the store (their answer was late).
    pub stalls_after: u64,
    /// Stalls at least [`STORE_TIMEOUT`] long (the handler gives up on the call).
    pub stalls_over_timeout: u64,
}

/// A per-isolate (per-test) fault plan, its generator and its counts. Shared (`Rc`) by the
/// stores it applies to and the route that sets it.
pub struct FaultInjector {
    scheduler: Arc<dyn Scheduler>,
    state: RefCell<State>,
}

struct State {
    plan: FaultPlan,
    random: SplitMix64,
    counts: FaultCounts,
}

impl FaultInjector {
    /// An injector with no plan (nothing injected); stalls wait on `scheduler`'s timers.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Rc<Self> {
        Rc::new(Self {
            scheduler,
            state: RefCell::new(State {
                plan: FaultPlan::default(),
                random: SplitMix64(0),
                counts: FaultCounts::default(),
            }),
        })
    }

    /// Follows `plan` from now on: the generator restarts from its seed and the counts from 0.
    pub fn set_plan(&self, plan: FaultPlan) -> Result<(), String> {
        plan.validate()?;
        *self.state.borrow_mut() = State {
            random: SplitMix64(plan.seed),
            plan,
            counts: FaultCounts::default(),
        };
        Ok(())
    }

    /// Stops injecting; the counts so far are kept.
    pub fn turn_off(&self) {
        self.state.borrow_mut().plan = FaultPlan::default();
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        self.state.borrow().plan.clone()
    }

    /// What was injected since the plan was set.
    pub fn counts(&self) -> FaultCounts {
        self.state.borrow().counts
    }

    /// The fate of one call (`get` or `put`), by the plan; counted.
    fn decide_call(&self, get: bool) -> FaultAction {
        let mut state = self.state.borrow_mut();
        let State {
            plan,
            random,
            counts,
        } = &mut *state;
        let failure = if get {
            counts.gets += 1;
            plan.get_failure
        } else {
            counts.puts += 1;
            plan.put_failure
        };
        if !plan.is_active() {
            return FaultAction::Proceed;
        }
        if random.chance(failure) {
            if get {
                counts.failed_gets += 1;
            } else {
                counts.failed_puts += 1;
            }
            return FaultAction::Fail;
        }
        if !random.chance(plan.stall) {
            return FaultAction::Proceed;
        }
        let millis = random.between(plan.stall_min_ms, plan.stall_max_ms);
        let stall = Duration::from_millis(millis);
        if stall >= STORE_TIMEOUT {
            counts.stalls_over_timeout += 1;
        }
        if random.chance(plan.stall_after) {
            counts.stalls_after += 1;
            FaultAction::StallAnswer(stall)
        } else {
            counts.stalls_before += 1;
            FaultAction::Stall(stall)
        }
    }

    /// In a simulation (a `TestScheduler`), marks an injected fault on its timeline, so a failing
    /// seed's timeline file shows it; nothing in the Worker.
    fn mark(&self, action: FaultAction, what: &str) {
        let Some(test) = self.scheduler.downcast_ref::<scheduler::TestScheduler>() else {
            return;
        };
        let fault = match action {
            FaultAction::Fail => "injected failure".to_string(),
            FaultAction::Stall(stall) => format!("stalled {stall:?} before the store"),
            FaultAction::StallAnswer(stall) => format!("stalled {stall:?} after the store"),
            FaultAction::Proceed => return,
        };
        let name = format!("KV {what}: {fault}");
        test.record_instant(scheduler::InstantKind::Fault, &name, &[]);
    }
}

impl FaultPoints for FaultInjector {
    /// Store calls follow the plan (`get`s by `get_failure`, every other operation by
    /// `put_failure`); every other point proceeds.
    fn decide(&self, point: FaultPoint<'_>) -> FaultAction {
        let FaultPoint::Store { operation, key } = point else {
            return FaultAction::Proceed;
        };
        let action = self.decide_call(operation == "get");
        self.mark(action, &format!("{operation} {key}"));
        action
    }
}

/// Runs `call` (which reaches the store only when first polled) as `action` says; stalls wait
/// on `scheduler`'s timers.
async fn apply<T>(
    scheduler: &Arc<dyn Scheduler>,
    action: FaultAction,
    what: &str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match action {
        FaultAction::Proceed => call.await,
        FaultAction::Fail => Err(StoreError(format!("KV {what}: injected failure"))),
        FaultAction::Stall(stall) => {
            scheduler.timer(stall).await;
            call.await
        }
        FaultAction::StallAnswer(stall) => {
            let output = call.await;
            scheduler.timer(stall).await;
            output
        }
    }
}

/// An [`EventStore`] that injects faults into `S`'s calls: before each, it asks its
/// [`FaultPoints`] with [`FaultPoint::Store`] (`operation` `"get"` or `"put"`, the key) and
/// applies the answer. Without fault points (or with a plan that is off) it is `S`.
pub struct InjectingStore<S> {
    inner: S,
    faults: Option<Injection>,
}

/// Who decides, and the scheduler whose timers stall.
struct Injection {
    points: Rc<dyn FaultPoints>,
    scheduler: Arc<dyn Scheduler>,
}

impl<S> InjectingStore<S> {
    /// `inner`, with the faults of the Worker's `faults` plan (none if `None`).
    pub fn new(inner: S, faults: Option<Rc<FaultInjector>>) -> Self {
        let faults = faults.map(|injector| Injection {
            scheduler: injector.scheduler.clone(),
            points: injector,
        });
        Self { inner, faults }
    }

    /// `inner`, with the faults `points` decides (a `SimulatedExecutionContext`'s
    /// `fault_points()` in simulation); stalls wait on `scheduler`'s timers.
    pub fn with_fault_points(
        inner: S,
        points: impl FaultPoints + 'static,
        scheduler: Arc<dyn Scheduler>,
    ) -> Self {
        let points = Rc::new(points);
        Self {
            inner,
            faults: Some(Injection { points, scheduler }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: EventStore> EventStore for InjectingStore<S> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.faults {
            None => self.inner.get(key).await,
            Some(faults) => {
                let action = faults.points.decide(FaultPoint::Store {
                    operation: "get",
                    key,
                });
                let what = format!("get {key}");
                apply(&faults.scheduler, action, &what, self.inner.get(key)).await
            }
        }
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        match &self.faults {
            None => self.inner.put(key, value).await,
            Some(faults) => {
                let action = faults.points.decide(FaultPoint::Store {
                    operation: "put",
                    key,
                });
                let what = format!("put {key}");
                let call = self.inner.put(key, value);
                apply(&faults.scheduler, action, &what, call).await
            }
        }
    }
}

/// SplitMix64: small, fast, and the same sequence on every target for a seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `rate` (never for 0, always for 1).
    fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.unit() < rate
    }

    /// A uniform value in `[low, high]`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

#[cfg(test)]
mod tests;

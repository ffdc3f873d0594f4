//! What lives as long as the isolate: the scheduler, the store fault injector (off unless the
//! dev route `/debug/faults` sets a plan) and the ingest service of the app's routes, each
//! created on first use. (The dev module keeps the `spawn_local` peer's service.)

use crate::faults::{FaultInjector, InjectingStore};
use crate::ids::IsolateIds;
use crate::ingest::{
    COUNTER_BINDING, CounterReply, CounterRequest, CounterStats, Counters, FailureLog,
    IngestService,
};
use crate::kv_store::KvEventStore;
use scheduler::cloud::{
    CloudflareDurableObjectNamespace, DurableObjectFailure, DurableObjectNamespace, LocalBoxFuture,
    SchedulerRuntime, WorkerdScheduler,
};
use scheduler::platform::wasm::WasmScheduler;
use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use worker::{Env, Result};

/// The KV namespace binding (see wrangler.toml).
pub const KV_BINDING: &str = "EVENTS";

/// The ingest service on the WasmScheduler, its KV calls through the fault injector (which
/// injects nothing unless the dev route `/debug/faults` set a plan; deployed, nothing can).
pub type Service = IngestService<SchedulerRuntime, InjectingStore<KvEventStore>>;

thread_local! {
    // The default WasmSchedulerConfig: the WorkerdScheduler yields per session, each in its
    // own request's I/O context, so the starvation guard needs no override in workerd.
    static SCHEDULER: Arc<WorkerdScheduler> = WorkerdScheduler::new(WasmScheduler::new());
    static SERVICE: OnceCell<Service> = const { OnceCell::new() };
    static FAULTS: Rc<FaultInjector> = FaultInjector::new(scheduler());
}

/// The isolate's scheduler: every request is a session of it.
pub fn scheduler() -> Arc<WorkerdScheduler> {
    SCHEDULER.with(Arc::clone)
}

/// The isolate's store fault injector (see [`crate::faults`]); it applies to the main routes.
pub fn faults() -> Rc<FaultInjector> {
    FAULTS.with(Rc::clone)
}

/// The ingest service of the app's routes; its counters are shared by every request. Its KV
/// calls go through the fault injector.
pub fn service(env: &Env) -> Result<Service> {
    let runtime = SchedulerRuntime::new(scheduler());
    cached_service(&SERVICE, env, runtime, "", Some(faults()))
}

/// The counter objects (the `COUNTER` binding), every object's name under `name_prefix`.
pub fn counters(env: &Env, name_prefix: &'static str) -> Result<Counters> {
    let binding = CloudflareDurableObjectNamespace::new(env.durable_object(COUNTER_BINDING)?);
    if name_prefix.is_empty() {
        return Ok(Rc::new(binding));
    }
    Ok(Rc::new(Prefixed {
        binding,
        name_prefix,
    }))
}

/// The counter binding with every object's name under a prefix (the `/peer` routes' counters
/// are objects of their own, as their KV keys are).
struct Prefixed {
    binding: CloudflareDurableObjectNamespace<CounterRequest, CounterReply>,
    name_prefix: &'static str,
}

impl DurableObjectNamespace for Prefixed {
    type Request = CounterRequest;
    type Response = CounterReply;

    fn send(
        &self,
        name: &str,
        request: CounterRequest,
    ) -> LocalBoxFuture<std::result::Result<CounterReply, DurableObjectFailure>> {
        self.binding
            .send(&format!("{}{name}", self.name_prefix), request)
    }
}

/// The service kept in `cell`, created on first use: the ingest handler on `runtime`, over
/// the KV namespace with every key under `key_prefix` and the counter objects named under the
/// same prefix, its KV calls through `faults` (if any).
pub(crate) fn cached_service(
    cell: &'static std::thread::LocalKey<OnceCell<Service>>,
    env: &Env,
    runtime: SchedulerRuntime,
    key_prefix: &'static str,
    faults: Option<Rc<FaultInjector>>,
) -> Result<Service> {
    if let Some(service) = cell.with(|cell| cell.get().cloned()) {
        return Ok(service);
    }
    let kv = KvEventStore::new(env.kv(KV_BINDING)?, key_prefix);
    let store = InjectingStore::new(kv, faults);
    // Each failure is also written to the Worker's log (Workers Logs) as it is recorded: the
    // in-memory list (`/stats`) is lost with the isolate, the log line is not.
    let failures = FailureLog::forwarding(|line| {
        worker::console_log!("ingest failure: {line}");
    });
    let counters = counters(env, key_prefix)?;
    let service =
        IngestService::with_failure_log(runtime, store, counters, IsolateIds::new(), failures);
    Ok(cell.with(|cell| cell.get_or_init(|| service).clone()))
}

/// Store failures of background processing on the app's routes so far (the response had
/// already been sent, so they are kept for `/stats`).
pub fn ingest_failures() -> Vec<String> {
    SERVICE.with(|cell| cell.get().map(Service::failures).unwrap_or_default())
}

/// What the app's increments went through on their way to the counter objects.
pub fn counter_stats() -> CounterStats {
    SERVICE.with(|cell| cell.get().map(Service::counter_stats).unwrap_or_default())
}

/// Counter increments of the app's routes not settled yet (sent to a counter object, or
/// waiting to ride a request to it, and not answered).
pub fn pending_count_increments() -> u64 {
    SERVICE.with(|cell| cell.get().map_or(0, Service::pending_count_increments))
}

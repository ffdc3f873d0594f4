//! Dev routes that misbehave on demand, to show that one bad request never takes the Worker
//! down (issue 18), and the isolate-wide book that shows the isolate's state survives them:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /debug/panic[?panic=true]` | [`panic_on_demand`]: a subtask of the request panics (with `panic=true`; `false` or absent: it answers); 500 naming the panic, or 200 |
//! | `GET /debug/spin?seconds=S` | [`spin`]: a subtask that wakes itself forever, until `S` seconds (1 to [`MAX_SPIN_SECONDS`]) have passed or a stop is asked |
//! | `GET /debug/spin?stop=true` | stops every spinning request (they answer 200 with their polls) |
//! | `GET /debug/isolate` | the isolate's identity and counters ([`ChaosBook`] and the scheduler's): they keep counting unless the isolate is reset |
//!
//! The handlers ([`panic_on_demand`], [`spin`]) and the answer ([`panic_answer`]) are
//! target-independent: the native test `worker/tests/chaos.rs` runs them on a
//! `SimulatedExecutionContext` and the e2e suite (`worker/tests/panics.mjs`) on workerd, and
//! both check the same answers (`worker/tests/panic_answers.json`).

use super::fanout::yield_now;
use scheduler::cloud::{ExecutionContext, PlatformRuntime, RequestFailed, RequestFailure};
use serde_json::{Value, json};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// The longest a spinning request may be asked to spin.
pub const MAX_SPIN_SECONDS: u64 = 60;

/// The panic message of [`panic_on_demand`]'s subtask.
pub const PANIC_MESSAGE: &str = "panic on demand (GET /debug/panic?panic=true)";

/// What the isolate's chaos routes did so far (one isolate, one thread: `Rc`). It lives in wasm
/// memory, so it survives a panic under `panic = "unwind"` and is lost when an abort build's
/// instance is reset.
#[derive(Clone, Default)]
pub struct ChaosBook(Rc<Counts>);

#[derive(Default)]
struct Counts {
    served: Cell<u64>,
    jobs_registered: Cell<u64>,
    jobs_settled: Cell<u64>,
    spins: Cell<u64>,
    spinning: Cell<u64>,
    /// Stops asked so far: a spin stops once this has grown since it started.
    stops: Cell<u64>,
}

/// A snapshot of a [`ChaosBook`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChaosCounts {
    /// Requests of [`panic_on_demand`] (the panicking ones too), numbered from 0 in order.
    pub served: u64,
    /// Their `wait_until` jobs registered.
    pub jobs_registered: u64,
    /// Their `wait_until` jobs that ran (the panicking requests' too).
    pub jobs_settled: u64,
    /// Requests of [`spin`] so far.
    pub spins: u64,
    /// Spinning now.
    pub spinning: u64,
    /// Stops asked.
    pub stops: u64,
}

impl ChaosBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn counts(&self) -> ChaosCounts {
        let c = &self.0;
        ChaosCounts {
            served: c.served.get(),
            jobs_registered: c.jobs_registered.get(),
            jobs_settled: c.jobs_settled.get(),
            spins: c.spins.get(),
            spinning: c.spinning.get(),
            stops: c.stops.get(),
        }
    }

    /// Asks every spinning request to stop; answers how many were spinning.
    pub fn stop_spinning(&self) -> u64 {
        bump(&self.0.stops);
        self.0.spinning.get()
    }
}

fn bump(cell: &Cell<u64>) -> u64 {
    let value = cell.get();
    cell.set(value + 1);
    value
}

/// The answer of [`panic_on_demand`] when it does not panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanicAnswer {
    /// The request's number in the isolate's book (0, 1, 2, ...; the panicking ones count).
    pub request: u64,
    /// What its subtask computed: `3 * request + 1`.
    pub value: u64,
}

/// `GET /debug/panic`'s handler: counts the request in `book`, registers a `wait_until` job
/// (which runs whether or not the request panics), then awaits a subtask that panics with
/// [`PANIC_MESSAGE`] if `panic`, or computes `3 * request + 1`. The subtask's panic is re-raised
/// where it is awaited, so the handler panics with it and the request fails alone.
pub async fn panic_on_demand<R, C>(
    runtime: &R,
    ctx: &C,
    book: &ChaosBook,
    panic: bool,
) -> PanicAnswer
where
    R: PlatformRuntime,
    C: ExecutionContext,
{
    let request = bump(&book.0.served);
    bump(&book.0.jobs_registered);
    let jobs = book.clone();
    ctx.wait_until(async move {
        yield_now().await;
        bump(&jobs.0.jobs_settled);
    });
    let value = runtime
        .spawn(async move {
            yield_now().await;
            if panic {
                std::panic::panic_any(PANIC_MESSAGE);
            }
            3 * request + 1
        })
        .await;
    PanicAnswer { request, value }
}

/// The HTTP answer to [`panic_on_demand`]'s outcome: 200
/// `{"status":"ok","request":…,"value":…}`, or, when the handler panicked, 500
/// `{"status":"failed","cause":"panicked","session":…,"error":…}` (the shape of
/// `worker::Response::from(RequestFailed)`), the error naming the tasks and the panic.
pub fn panic_answer(outcome: &Result<PanicAnswer, RequestFailed>) -> (u16, Value) {
    match outcome {
        Ok(answer) => (
            200,
            json!({ "status": "ok", "request": answer.request, "value": answer.value }),
        ),
        Err(failed) => {
            let cause = match failed.cause {
                RequestFailure::Panicked => "panicked",
                RequestFailure::ClientDisconnected => "client disconnected",
                RequestFailure::IsolateReset => "isolate reset",
                _ => "failed",
            };
            (
                500,
                json!({
                    "status": "failed",
                    "cause": cause,
                    "session": failed.session.to_string(),
                    "error": failed.message,
                }),
            )
        }
    }
}

/// The answer of [`spin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpinAnswer {
    /// Times the spinning subtask woke itself.
    pub polls: u64,
    /// Whether a stop ended it (otherwise its time ran out).
    pub stopped: bool,
    /// How long it spun, on the platform's clock.
    pub elapsed: Duration,
}

/// `GET /debug/spin?seconds=S`'s handler: awaits a subtask that wakes itself again at every
/// poll (never waiting for a timer or I/O) until `limit` has passed on the platform's clock or
/// [`ChaosBook::stop_spinning`] is called. The scheduler's starvation guard must let the other
/// requests of the isolate through meanwhile.
pub async fn spin<R>(runtime: &R, book: &ChaosBook, limit: Duration) -> SpinAnswer
where
    R: PlatformRuntime + Clone + 'static,
{
    bump(&book.0.spins);
    bump(&book.0.spinning);
    let stops_at_start = book.0.stops.get();
    let started = runtime.now();
    let (clock, counts) = (runtime.clone(), book.clone());
    let answer = runtime
        .spawn(async move {
            let mut polls = 0u64;
            loop {
                let stopped = counts.0.stops.get() != stops_at_start;
                let elapsed = clock.now().saturating_duration_since(started);
                if stopped || elapsed >= limit {
                    return SpinAnswer {
                        polls,
                        stopped,
                        elapsed,
                    };
                }
                polls += 1;
                yield_now().await;
            }
        })
        .await;
    book.0.spinning.set(book.0.spinning.get() - 1);
    answer
}

#[cfg(target_arch = "wasm32")]
pub(super) use wasm::{isolate, panic, spin_route};

/// The routes on workerd: each runs its handler as a session of the isolate's scheduler.
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::{ChaosBook, MAX_SPIN_SECONDS, panic_answer, panic_on_demand, spin};
    use crate::http::{self, QueryParam, json_response};
    use crate::isolate as app_isolate;
    use scheduler::cloud::{CloudflareExecutionContext, CloudflareStats, SchedulerRuntime};
    use serde_json::json;
    use std::time::Duration;
    use worker::{Context, Request, Response, Result, RouteContext};

    thread_local! {
        static BOOK: ChaosBook = ChaosBook::new();
        /// This wasm instance's identity: random, made at its first use (a reset instance gets
        /// a new one).
        static INSTANCE_ID: String = format!("{:012x}", (js_sys::Math::random() * 2f64.powi(48)) as u64);
    }

    fn book() -> ChaosBook {
        BOOK.with(ChaosBook::clone)
    }

    fn boolean(name: &'static str) -> QueryParam {
        QueryParam {
            name,
            max_len: 5,
            check: Some(|value| match value {
                "true" | "false" => Ok(()),
                _ => Err(format!("must be `true` or `false`, found {value:?}")),
            }),
        }
    }

    /// `GET /debug/panic[?panic=true|false]`.
    pub async fn panic(request: Request, route: RouteContext<Context>) -> Result<Response> {
        let query = match http::query(&request, &[boolean("panic")])? {
            Ok(query) => query,
            Err(rejection) => return Ok(rejection),
        };
        let panic = query.get("panic").is_some_and(|value| value == "true");
        let runtime = SchedulerRuntime::new(app_isolate::scheduler());
        let ctx = CloudflareExecutionContext::new(app_isolate::scheduler(), route.data);
        let (served, book) = (ctx.clone(), book());
        let outcome = served
            .serve(async move { panic_on_demand(&runtime, &ctx, &book, panic).await })
            .await;
        let (status, body) = panic_answer(&outcome);
        json_response(status, &body)
    }

    const SPIN_QUERY: &[QueryParam] = &[
        QueryParam {
            name: "seconds",
            max_len: 2,
            check: Some(|value| match value.parse::<u64>() {
                Ok(seconds) if (1..=MAX_SPIN_SECONDS).contains(&seconds) => Ok(()),
                _ => Err(format!(
                    "must be a whole number of seconds from 1 to {MAX_SPIN_SECONDS}, found {value:?}"
                )),
            }),
        },
        QueryParam {
            name: "stop",
            max_len: 4,
            check: Some(|value| match value {
                "true" => Ok(()),
                _ => Err(format!("must be `true`, found {value:?}")),
            }),
        },
    ];

    /// `GET /debug/spin?seconds=S` (spin) or `GET /debug/spin?stop=true` (stop the spinners).
    pub async fn spin_route(request: Request, route: RouteContext<Context>) -> Result<Response> {
        let query = match http::query(&request, SPIN_QUERY)? {
            Ok(query) => query,
            Err(rejection) => return Ok(rejection),
        };
        let book = book();
        let seconds = match (query.get("seconds"), query.get("stop")) {
            (None, Some(_)) => {
                let spinning = book.stop_spinning();
                return json_response(200, &json!({ "status": "stopping", "spinning": spinning }));
            }
            (Some(seconds), None) => seconds.parse::<u64>().unwrap_or(1),
            _ => {
                return http::rejected(
                    "seconds",
                    "give either `seconds` (1 to 60: spin that long) or `stop=true`",
                );
            }
        };
        let runtime = SchedulerRuntime::new(app_isolate::scheduler());
        let ctx = CloudflareExecutionContext::new(app_isolate::scheduler(), route.data);
        let outcome = ctx
            .serve(async move { spin(&runtime, &book, Duration::from_secs(seconds)).await })
            .await;
        match outcome {
            Ok(answer) => json_response(
                200,
                &json!({
                    "status": if answer.stopped { "stopped" } else { "timed_out" },
                    "polls": answer.polls,
                    "elapsed_ms": answer.elapsed.as_millis() as u64,
                }),
            ),
            Err(failed) => http::failed(failed),
        }
    }

    /// `GET /debug/isolate`: this instance's identity, the chaos routes' book and the
    /// scheduler's request counters. Served outside any session.
    pub fn isolate(request: Request, _route: RouteContext<Context>) -> Result<Response> {
        if let Err(rejection) = http::query(&request, &[])? {
            return Ok(rejection);
        }
        let counts = book().counts();
        let cloud = CloudflareStats::current();
        json_response(
            200,
            &json!({
                "instance": INSTANCE_ID.with(String::clone),
                "panic_route": {
                    "served": counts.served,
                    "jobs_registered": counts.jobs_registered,
                    "jobs_settled": counts.jobs_settled,
                },
                "spin_route": { "spins": counts.spins, "spinning": counts.spinning, "stops": counts.stops },
                "requests": cloud.requests,
                "sessions_ended": cloud.sessions_ended,
                "handlers_panicked": cloud.handlers_panicked,
                "leaked_tasks": cloud.leaked_tasks,
                "instance_resets": cloud.instance_resets,
                "requests_failed_by_resets": cloud.requests_failed_by_resets,
            }),
        )
    }
}

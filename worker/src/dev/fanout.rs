//! The CPU-bound benchmark handler (BENCHMARKS.md "Worker under load"): no KV, so the
//! scheduler, not storage, sets the request rate. Written once over [`FanoutRuntime`] and any
//! [`ExecutionContext`]; the Worker serves it on the WorkerdScheduler (`GET /fanout`) and on
//! plain `wasm_bindgen_futures::spawn_local` (`GET /peer/fanout`), and natively it runs in a
//! simulation (the tests below).
//!
//! One request: fan out [`SUBTASKS`] subtasks, each mixing a few numbers with [`YIELDS`]
//! cooperative yields in between and then waiting [`SUBTASK_DELAY`] on the platform's timer;
//! aggregate their results; register one `wait_until` job that yields once and records the
//! request's sum in a [`Tally`]; answer with the request's number and sum.
//!
//! The tally is the side effect a benchmark verifies afterwards: every request registers one
//! job, every job completes exactly once (a second completion of the same request is counted
//! as `doubled`), and its sum is the one the request computed (`wrong_sums` otherwise).

use scheduler::Task;
use scheduler::cloud::{ExecutionContext, PlatformRuntime, SchedulerRuntime};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Subtasks per request.
pub const SUBTASKS: u64 = 10;
/// Cooperative yields per subtask.
pub const YIELDS: u32 = 4;
/// The timer every subtask waits on after its yields.
pub const SUBTASK_DELAY: Duration = Duration::from_millis(1);

/// What the handler needs from a platform: spawning a local subtask whose output can be
/// awaited, and a timer. Implemented by [`SchedulerRuntime`] (ours, and the simulation) and,
/// in the Worker, by the `spawn_local` peer.
pub trait FanoutRuntime: Clone + 'static {
    /// The awaitable handle of a spawned subtask.
    type Handle<T: 'static>: Future<Output = T> + 'static;

    /// Spawns `future` as a subtask of the current request.
    fn spawn<F>(&self, future: F) -> Self::Handle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static;

    /// A future that completes after `duration`.
    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static;
}

impl FanoutRuntime for SchedulerRuntime {
    type Handle<T: 'static> = Task<T>;

    fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        PlatformRuntime::spawn(self, future)
    }

    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static {
        PlatformRuntime::delay(self, duration)
    }
}

/// The answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanoutAnswer {
    /// The request's number in its tally (0, 1, 2, ...).
    pub request: u64,
    /// The aggregate of its subtasks' results.
    pub sum: u64,
}

/// Serves one request: fans out, aggregates, registers the `wait_until` job, answers.
pub async fn handle<R, C>(runtime: &R, ctx: &C, tally: &Tally) -> FanoutAnswer
where
    R: FanoutRuntime,
    C: ExecutionContext,
{
    let request = tally.begin();
    let subtasks: Vec<R::Handle<u64>> = (0..SUBTASKS)
        .map(|index| runtime.spawn(subtask(runtime.clone(), request, index)))
        .collect();
    let mut sum = 0u64;
    for subtask in subtasks {
        sum = sum.wrapping_add(subtask.await);
    }
    let job_tally = tally.clone();
    tally.job_registered();
    ctx.wait_until(async move {
        yield_now().await;
        job_tally.job_completed(request, sum);
    });
    FanoutAnswer { request, sum }
}

/// One subtask: a few rounds of mixing with a yield after each, then the timer.
async fn subtask<R: FanoutRuntime>(runtime: R, request: u64, index: u64) -> u64 {
    let mut value = mix(request ^ (index << 48));
    for _ in 0..YIELDS {
        yield_now().await;
        value = mix(value);
    }
    runtime.delay(SUBTASK_DELAY).await;
    value
}

/// The sum request number `request` must compute.
pub fn expected_sum(request: u64) -> u64 {
    (0..SUBTASKS).fold(0u64, |sum, index| {
        let mut value = mix(request ^ (index << 48));
        for _ in 0..YIELDS {
            value = mix(value);
        }
        sum.wrapping_add(value)
    })
}

/// splitmix64's finalizer: a few nanoseconds of real work per step.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Wakes itself once, then completes: one trip through the scheduler's queue.
pub(crate) fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// See [`yield_now`].
pub(crate) struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The counts a benchmark verifies, as [`Tally::snapshot`] returns them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TallySnapshot {
    /// Requests whose handler started.
    pub requests: u64,
    /// `wait_until` jobs registered (one per request that got as far as answering).
    pub jobs_registered: u64,
    /// Jobs that completed (each request counted once).
    pub jobs_completed: u64,
    /// Completions of a request that had already completed: must stay 0.
    pub doubled: u64,
    /// Completions whose sum was not the request's: must stay 0.
    pub wrong_sums: u64,
}

impl TallySnapshot {
    /// Jobs registered but not completed (yet).
    pub fn pending(&self) -> u64 {
        self.jobs_registered.saturating_sub(self.jobs_completed)
    }
}

/// The side effects of the handler's `wait_until` jobs, shared by the requests of one route
/// (one isolate, one thread: `Rc`). Which requests completed is a bit set, so a second
/// completion of the same request is seen.
#[derive(Clone, Default)]
pub struct Tally(Rc<RefCell<TallyState>>);

#[derive(Default)]
struct TallyState {
    counts: TallySnapshot,
    completed: Vec<u64>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> TallySnapshot {
        self.0.borrow().counts
    }

    fn begin(&self) -> u64 {
        let mut state = self.0.borrow_mut();
        let request = state.counts.requests;
        state.counts.requests += 1;
        request
    }

    fn job_registered(&self) {
        self.0.borrow_mut().counts.jobs_registered += 1;
    }

    fn job_completed(&self, request: u64, sum: u64) {
        let mut state = self.0.borrow_mut();
        let (word, bit) = ((request / 64) as usize, 1u64 << (request % 64));
        if state.completed.len() <= word {
            state.completed.resize(word + 1, 0);
        }
        if state.completed[word] & bit != 0 {
            state.counts.doubled += 1;
            return;
        }
        state.completed[word] |= bit;
        state.counts.jobs_completed += 1;
        if sum != expected_sum(request) {
            state.counts.wrong_sums += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler::TestScheduler;
    use scheduler::cloud::{SimulatedExecutionContext, WaitUntilOutcome};

    /// 20 concurrent requests over 50 seeds: every answer is right, every job lands once.
    #[test]
    fn every_request_completes_its_job_exactly_once() {
        for seed in 0..50 {
            let test = TestScheduler::with_seed(seed);
            let ctx = SimulatedExecutionContext::new(test.clone());
            let tally = Tally::new();
            let requests: Vec<_> = (0..20)
                .map(|_| {
                    let (ctx_for_handler, runtime, tally) =
                        (ctx.clone(), ctx.runtime(), tally.clone());
                    ctx.serve(async move { handle(&runtime, &ctx_for_handler, &tally).await })
                })
                .collect();
            let sessions: Vec<_> = requests.iter().map(|request| request.session()).collect();
            let mut answered: Vec<u64> = Vec::new();
            for request in requests {
                let answer = ctx.block(request).expect("the handler does not panic");
                assert_eq!(answer.sum, expected_sum(answer.request), "seed {seed}");
                answered.push(answer.request);
            }
            answered.sort_unstable();
            assert_eq!(answered, (0..20).collect::<Vec<_>>(), "seed {seed}");
            for session in sessions {
                let jobs = ctx.wait_on_execution_context(session);
                assert_eq!(jobs.len(), 1, "seed {seed}");
                assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed, "seed {seed}");
                ctx.validate_session_cleanup(session)
                    .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
            }
            let counts = tally.snapshot();
            assert_eq!(
                counts,
                TallySnapshot {
                    requests: 20,
                    jobs_registered: 20,
                    jobs_completed: 20,
                    doubled: 0,
                    wrong_sums: 0,
                },
                "seed {seed}"
            );
            assert_eq!(counts.pending(), 0);
            // Subtasks ran concurrently: the whole run took one timer's worth of virtual time.
            assert_eq!(ctx.elapsed(), SUBTASK_DELAY, "seed {seed}");
        }
    }

    #[test]
    fn a_second_completion_and_a_wrong_sum_are_counted() {
        let tally = Tally::new();
        let first = tally.begin();
        let second = tally.begin();
        tally.job_registered();
        tally.job_registered();
        tally.job_completed(first, expected_sum(first));
        tally.job_completed(first, expected_sum(first));
        tally.job_completed(second, expected_sum(second) ^ 1);
        let counts = tally.snapshot();
        assert_eq!(counts.jobs_completed, 2);
        assert_eq!(counts.doubled, 1);
        assert_eq!(counts.wrong_sums, 1);
        // Request numbers far apart grow the bit set.
        tally.job_completed(10_000, expected_sum(10_000));
        assert_eq!(tally.snapshot().jobs_completed, 3);
    }
}

//! A failing seed's timeline. Three simulated Worker requests (one session each) count a visit:
//! each reads a shared counter, waits for a store round trip, then writes `seen + 1`, a lost
//! update whenever two requests overlap. The store sometimes fails a write once and the
//! handler retries; each failure is marked as a fault on the timeline. The seed harness finds a
//! failing seed, writes its replay file and its timeline (a Chrome trace / Perfetto JSON file)
//! side by side, and prints both; `scripts/test.d/80-timeline.sh` renders it (README screenshot).
//!
//! ```text
//! cargo run --example timeline            # fails, printing the seed, the replay command and the timeline path
//! TIMELINE=0 cargo run --example timeline # the same without recording the timeline
//! ```

use scheduler::cloud::{ExecutionContext, PlatformRuntime, SimulatedExecutionContext};
use scheduler::{InstantKind, TestScheduler, run_seeds};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn main() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let visits = Arc::new(Mutex::new(0));
        let requests: Vec<_> = (1..=3)
            .map(|user: u64| {
                let (test, ctx2, runtime) = (test.clone(), ctx.clone(), ctx.runtime());
                let visits = visits.clone();
                ctx.serve(async move {
                    // The request arrives a little later than the previous one.
                    runtime.delay(Duration::from_millis(2 * user)).await;
                    let seen = *visits.lock().unwrap(); // read
                    loop {
                        // The store round trip: the other requests run meanwhile.
                        let round_trip = test.random_range(1..4);
                        runtime.delay(Duration::from_millis(round_trip)).await;
                        if test.random_range(0..4) != 0 {
                            break;
                        }
                        test.record_instant(
                            InstantKind::Fault,
                            "store write failed",
                            &[("user", &user), ("then", &"retried")],
                        );
                    }
                    *visits.lock().unwrap() = seen + 1; // write: a lost update if another wrote meanwhile
                    let audit = runtime.clone();
                    ctx2.wait_until(async move { audit.delay(Duration::from_secs(1)).await });
                })
            })
            .collect();
        for request in requests {
            let session = request.session();
            ctx.block(request).expect("the handler did not panic");
            ctx.wait_on_execution_context(session);
        }
        let visits = *visits.lock().unwrap();
        assert_eq!(visits, 3, "lost update: 3 visits counted as fewer");
    });
}

//! Running a failing schedule a second time without printing its panic again: the seed harness
//! reruns a failure to record its choices and its timeline, and the user already saw the panic.
//!
//! The panic hook is process-wide (and tests run on many threads), so one hook is installed
//! once, wrapping the previous one: it stays silent only on a thread that is rerunning.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static RERUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `rerun` with this thread's panics not printed.
pub(super) fn rerun<R>(rerun: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RERUNNING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = RERUNNING.with(|flag| flag.replace(true));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RERUNNING.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(was);
    rerun()
}

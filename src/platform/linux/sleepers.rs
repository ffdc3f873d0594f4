//! Which pool workers are parked, and the handshake that never loses a wake-up.
//!
//! A worker with nothing to do announces itself in `sleeping`, then (after a `SeqCst` fence)
//! looks for work once more and parks only if it still finds none. A producer publishes its
//! work, then (after a `SeqCst` fence) looks for a sleeper to wake. By the fences (Dekker's
//! pattern) at least one side sees the other: either the worker sees the work, or the producer
//! sees the worker and unparks it (an unpark before the park leaves a token, so the park
//! returns at once). `loom` checks this under every interleaving (`loom_tests` below).

use crate::sync::{AtomicUsize, Mutex, Ordering, fence, lock};
use parking::{Parker, Unparker};

/// The pool's sleeping workers.
pub(super) struct Sleepers {
    /// Indices of the workers that are parked or about to park. Only touched on the slow path.
    sleeping: Mutex<Vec<usize>>,
    /// `sleeping.len()`, readable without the lock: producers skip the lock while it is 0.
    count: AtomicUsize,
    /// One per worker, by index.
    unparkers: Vec<Unparker>,
}

impl Sleepers {
    /// Sleepers of the workers whose unparkers these are (worker `i` is `unparkers[i]`).
    pub(super) fn new(unparkers: Vec<Unparker>) -> Self {
        let workers = unparkers.len();
        Self {
            sleeping: Mutex::new(Vec::with_capacity(workers)),
            count: AtomicUsize::new(0),
            unparkers,
        }
    }

    /// How many workers there are.
    pub(super) fn workers(&self) -> usize {
        self.unparkers.len()
    }

    /// Producer side, called after publishing work: wakes one parked worker, if any.
    pub(super) fn wake_one(&self) {
        fence(Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let index = {
            let mut sleeping = lock(&self.sleeping);
            let index = sleeping.pop();
            if index.is_some() {
                self.count.fetch_sub(1, Ordering::SeqCst);
            }
            index
        };
        if let Some(index) = index {
            self.unparkers[index].unpark();
        }
    }

    /// Wakes every worker (shutdown).
    pub(super) fn wake_all(&self) {
        for unparker in &self.unparkers {
            unparker.unpark();
        }
    }

    /// Worker side: parks worker `index` on `parker` unless `keep_awake()` (work is visible, or
    /// the pool shuts down) once it has announced itself.
    pub(super) fn park(&self, index: usize, parker: &Parker, keep_awake: impl Fn() -> bool) {
        {
            let mut sleeping = lock(&self.sleeping);
            sleeping.push(index);
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        // Dekker pairing with `wake_one`: a producer either sees us in `sleeping` or we see its
        // work.
        fence(Ordering::SeqCst);
        if !keep_awake() {
            parker.park();
        }
        // Leave the sleeping list if a producer did not already take us out of it.
        let mut sleeping = lock(&self.sleeping);
        if let Some(position) = sleeping.iter().position(|&i| i == index) {
            sleeping.swap_remove(position);
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use parking::pair;

    /// Two workers, one producer of `ITEMS` work items: every item is taken and no worker stays
    /// parked with work left (loom reports a deadlock if one does).
    #[test]
    fn loom_no_wake_up_is_lost() {
        const ITEMS: usize = 2;
        loom::model(|| {
            let (parkers, unparkers): (Vec<_>, Vec<_>) = (0..2).map(|_| pair()).unzip();
            let sleepers = Arc::new(Sleepers::new(unparkers));
            let queue = Arc::new(AtomicUsize::new(0)); // items published, not yet taken
            let taken = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = parkers
                .into_iter()
                .enumerate()
                .map(|(index, parker)| {
                    let (sleepers, queue, taken) = (sleepers.clone(), queue.clone(), taken.clone());
                    loom::thread::spawn(move || {
                        while taken.load(Ordering::SeqCst) < ITEMS {
                            let available = queue.load(Ordering::SeqCst);
                            if available > 0
                                && queue
                                    .compare_exchange(
                                        available,
                                        available - 1,
                                        Ordering::SeqCst,
                                        Ordering::SeqCst,
                                    )
                                    .is_ok()
                            {
                                if taken.fetch_add(1, Ordering::SeqCst) + 1 == ITEMS {
                                    sleepers.wake_all(); // the last item: let the others end
                                }
                                continue;
                            }
                            sleepers.park(index, &parker, || {
                                queue.load(Ordering::SeqCst) > 0
                                    || taken.load(Ordering::SeqCst) >= ITEMS
                            });
                        }
                    })
                })
                .collect();
            for _ in 0..ITEMS {
                queue.fetch_add(1, Ordering::SeqCst);
                sleepers.wake_one();
            }
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(taken.load(Ordering::SeqCst), ITEMS);
        });
    }
}

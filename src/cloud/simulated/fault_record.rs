//! What the simulation injected: [`FaultKind`], per-kind [`FaultCounts`] (context-wide, and
//! summed over seeds by a test), and each [`InjectedFault`] of a session.

use std::fmt;
use std::ops::AddAssign;
use std::time::Duration;

/// A kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultKind {
    /// A store call failed without reaching the store.
    StoreFailure,
    /// A store call stalled (before reaching the store, or after: a late answer).
    StoreStall,
    /// A subrequest was slow.
    SlowSubrequest,
    /// A client disconnected while its handler ran: the handler was dropped.
    ClientDisconnect,
    /// The isolate was reset: its in-memory state was lost and its requests in flight failed.
    IsolateReset,
    /// A `buggify` point fired.
    Buggify,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StoreFailure => "store failure",
            Self::StoreStall => "store stall",
            Self::SlowSubrequest => "slow subrequest",
            Self::ClientDisconnect => "client disconnect",
            Self::IsolateReset => "isolate reset",
            Self::Buggify => "buggify",
        })
    }
}

/// How many faults of each kind were injected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Store calls failed.
    pub store_failures: u64,
    /// Store calls stalled.
    pub store_stalls: u64,
    /// Subrequests slowed down.
    pub slow_subrequests: u64,
    /// Handlers dropped because their client disconnected.
    pub client_disconnects: u64,
    /// Isolate resets.
    pub isolate_resets: u64,
    /// `buggify` points that fired.
    pub buggify: u64,
}

impl FaultCounts {
    /// Every fault injected.
    pub fn total(&self) -> u64 {
        self.store_failures
            + self.store_stalls
            + self.slow_subrequests
            + self.client_disconnects
            + self.isolate_resets
            + self.buggify
    }

    pub(super) fn count(&mut self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::StoreFailure => &mut self.store_failures,
            FaultKind::StoreStall => &mut self.store_stalls,
            FaultKind::SlowSubrequest => &mut self.slow_subrequests,
            FaultKind::ClientDisconnect => &mut self.client_disconnects,
            FaultKind::IsolateReset => &mut self.isolate_resets,
            FaultKind::Buggify => &mut self.buggify,
        };
        *counter += 1;
    }
}

impl AddAssign for FaultCounts {
    fn add_assign(&mut self, other: Self) {
        self.store_failures += other.store_failures;
        self.store_stalls += other.store_stalls;
        self.slow_subrequests += other.slow_subrequests;
        self.client_disconnects += other.client_disconnects;
        self.isolate_resets += other.isolate_resets;
        self.buggify += other.buggify;
    }
}

impl fmt::Display for FaultCounts {
    /// `41 faults: 12 store failures, 9 store stalls, 5 slow subrequests, 6 client disconnects,
    /// 1 isolate reset, 8 buggify`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}: {}, {}, {}, {}, {}, {} buggify",
            plural(self.total(), "fault", "faults"),
            plural(self.store_failures, "store failure", "store failures"),
            plural(self.store_stalls, "store stall", "store stalls"),
            plural(self.slow_subrequests, "slow subrequest", "slow subrequests"),
            plural(
                self.client_disconnects,
                "client disconnect",
                "client disconnects"
            ),
            plural(self.isolate_resets, "isolate reset", "isolate resets"),
            self.buggify
        )
    }
}

/// One fault injected into a session, for its [`SessionReport`](super::SessionReport).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// Its kind.
    pub kind: FaultKind,
    /// What it hit: `put count:click: stalled 7.2s before the store`.
    pub what: String,
    /// When: virtual time since the context was created.
    pub at: Duration,
}

impl fmt::Display for InjectedFault {
    /// `store stall at 1.2s: put count:click: stalled 7.2s before the store`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:?}: {}", self.kind, self.at, self.what)
    }
}

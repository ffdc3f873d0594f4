//! [`FailureLog`]: where the handler records each accepted event it could not (or maybe could
//! not) store and count. The response was sent long before, so this log is the promise's other
//! half: it must not be lost with the isolate.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// The failures of background processing, one line per event: `"evt-000003: store error: …"`.
/// Clones share the log.
///
/// The lines are kept in memory (for `/stats` and tests) — memory of the isolate, lost when it
/// is reset — and, when the log [forwards](Self::forwarding), each line is also handed at once
/// to something that outlives the isolate: the Worker's log (`console.log`), a queue. An event
/// whose failure was only in memory would be silently lost by a reset.
///
/// ```
/// use scheduler_worker::ingest::FailureLog;
/// use std::{cell::RefCell, rc::Rc};
/// let shipped = Rc::new(RefCell::new(Vec::new()));
/// let log = FailureLog::forwarding({
///     let shipped = shipped.clone();
///     move |line| shipped.borrow_mut().push(line.to_string())
/// });
/// log.record("evt-000001: store error: KV put failed".to_string());
/// assert_eq!(log.lines(), *shipped.borrow());
/// ```
#[derive(Clone, Default)]
pub struct FailureLog {
    lines: Rc<RefCell<Vec<String>>>,
    forward: Option<Forward>,
}

/// Where a forwarding log hands each line.
type Forward = Rc<dyn Fn(&str)>;

impl FailureLog {
    /// A log kept in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that also hands every line to `forward` as it is recorded.
    pub fn forwarding(forward: impl Fn(&str) + 'static) -> Self {
        Self {
            lines: Rc::default(),
            forward: Some(Rc::new(forward)),
        }
    }

    /// Records one line (forwarding it).
    pub fn record(&self, line: String) {
        if let Some(forward) = &self.forward {
            forward(&line);
        }
        self.lines.borrow_mut().push(line);
    }

    /// The lines recorded in memory so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }
}

impl fmt::Debug for FailureLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureLog")
            .field("lines", &self.lines.borrow().len())
            .field("forwarding", &self.forward.is_some())
            .finish()
    }
}

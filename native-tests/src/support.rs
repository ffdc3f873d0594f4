//! Small helpers the test files and benchmarks share.

use std::any::Any;
use std::future::Future;
use std::task::Poll;

/// A future that yields once: it wakes itself and returns `Pending` once, then completes.
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// The text of a panic payload (`&str` or `String`), or an empty string.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

//! Win32 errors as `io::Error`s that name the failed call.

use std::io;

/// A Win32 error from the last failed call, naming the call.
pub(super) fn win32_error(call: &str) -> io::Error {
    let error = io::Error::last_os_error();
    io::Error::new(error.kind(), format!("{call} failed: {error}"))
}

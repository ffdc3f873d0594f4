//! Captures what is written to `console.error` while a [`ConsoleErrorCapture`] is alive.

use js_sys::Reflect;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

/// Replaces `console.error` with a recorder until dropped, then restores the original.
pub struct ConsoleErrorCapture {
    lines: Rc<RefCell<Vec<String>>>,
    original: JsValue,
    _recorder: Closure<dyn FnMut(JsValue)>,
}

impl ConsoleErrorCapture {
    /// Starts capturing.
    pub fn start() -> Self {
        let console = console();
        let original = Reflect::get(&console, &"error".into()).expect("console.error exists");
        let lines = Rc::new(RefCell::new(Vec::new()));
        // Asserted: recording a line cannot leave the list half-updated.
        let recorder = Closure::own_assert_unwind_safe({
            let lines = lines.clone();
            move |line: JsValue| {
                lines
                    .borrow_mut()
                    .push(line.as_string().unwrap_or_else(|| format!("{line:?}")));
            }
        });
        Reflect::set(&console, &"error".into(), recorder.as_ref()).expect("console is writable");
        Self {
            lines,
            original,
            _recorder: recorder,
        }
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }
}

impl Drop for ConsoleErrorCapture {
    fn drop(&mut self) {
        let _ = Reflect::set(&console(), &"error".into(), &self.original);
    }
}

fn console() -> JsValue {
    Reflect::get(&js_sys::global(), &"console".into()).expect("a console exists")
}

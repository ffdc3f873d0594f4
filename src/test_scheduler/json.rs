//! The little JSON the timeline file needs, written by hand (the crate has no serde): objects
//! of strings and numbers, with strings escaped as RFC 8259 requires.

use std::fmt::{Display, Write};

/// Appends `text` as a JSON string: quoted, with `"`, `\` and every control character escaped.
pub(super) fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object member by member; [`end`](Self::end) closes it.
pub(super) struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    pub(super) fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(':');
    }

    pub(super) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        string(self.out, value);
        self
    }

    /// A number (an integer, or a decimal written by the caller): written as is.
    pub(super) fn num(&mut self, key: &str, value: impl Display) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A nested object, filled by `fill`.
    pub(super) fn object(&mut self, key: &str, fill: impl FnOnce(&mut Object<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = Object::new(self.out);
        fill(&mut inner);
        inner.end();
        self
    }

    pub(super) fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a \"b\" \\ c\n\t\u{1}é");
        assert_eq!(out, r#""a \"b\" \\ c\n\t\u0001é""#);
        let mut out = String::new();
        let mut object = Object::new(&mut out);
        object.str("k", "v").num("n", 1.5).object("o", |inner| {
            inner.num("x", 2);
        });
        object.end();
        assert_eq!(out, r#"{"k":"v","n":1.5,"o":{"x":2}}"#);
    }
}

//! [`Event`]: an ingested event, and its validation from JSON with errors that name the field.

use serde_json::{Map, Value};
use std::error::Error;
use std::fmt;

/// The most values one event may carry.
pub const MAX_VALUES: usize = 32;

/// The longest accepted event type.
pub const MAX_TYPE_LEN: usize = 32;

/// The longest accepted user name.
pub const MAX_USER_LEN: usize = 64;

/// A validated event: `{"type": "click", "user": "ada", "values": [1, 2.5, 40]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `type`: 1 to 32 characters out of `a-z`, `0-9`, `_`, `-`.
    pub kind: String,
    /// `user`: 1 to 64 characters.
    pub user: String,
    /// `values`: 1 to 32 finite numbers.
    pub values: Vec<f64>,
}

/// Why an event was rejected: the offending field (`values[2]`, or `body` for the whole
/// document) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The bad field, as a path: `type`, `user`, `values`, `values[3]`, or `body`.
    pub field: String,
    /// What is wrong, readable by a person.
    pub problem: String,
}

impl ValidationError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    /// ``invalid event: field `values[1]` must be a number, found a string``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid event: field `{}` {}", self.field, self.problem)
    }
}

impl Error for ValidationError {}

impl Event {
    /// Parses and validates a JSON event. Unknown fields are rejected too, so a typo never
    /// silently drops data.
    ///
    /// ```
    /// use scheduler_worker::ingest::Event;
    /// let event = Event::parse(r#"{"type":"click","user":"ada","values":[1,2]}"#).unwrap();
    /// assert_eq!(event.values, [1.0, 2.0]);
    /// let error = Event::parse(r#"{"type":"click","user":"ada","values":[1,"2"]}"#).unwrap_err();
    /// assert_eq!(error.field, "values[1]");
    /// assert_eq!(error.to_string(), "invalid event: field `values[1]` must be a number, found a string");
    /// ```
    pub fn parse(body: &str) -> Result<Self, ValidationError> {
        let document: Value = serde_json::from_str(body)
            .map_err(|error| ValidationError::new("body", format!("is not valid JSON: {error}")))?;
        let Value::Object(object) = document else {
            return Err(ValidationError::new(
                "body",
                format!("must be a JSON object, found {}", kind_of(&document)),
            ));
        };
        if let Some(unknown) = object
            .keys()
            .find(|key| !["type", "user", "values"].contains(&key.as_str()))
        {
            return Err(ValidationError::new(
                unknown.as_str(),
                "is not a known field (expected only `type`, `user` and `values`)",
            ));
        }
        Ok(Self {
            kind: parse_type(&object)?,
            user: parse_user(&object)?,
            values: parse_values(&object)?,
        })
    }
}

fn required<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ValidationError> {
    object
        .get(field)
        .ok_or_else(|| ValidationError::new(field, "is missing"))
}

fn required_string<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, ValidationError> {
    match required(object, field)? {
        Value::String(text) => Ok(text),
        other => Err(ValidationError::new(
            field,
            format!("must be a string, found {}", kind_of(other)),
        )),
    }
}

fn parse_type(object: &Map<String, Value>) -> Result<String, ValidationError> {
    let kind = required_string(object, "type")?;
    validate_type(kind)?;
    Ok(kind.to_string())
}

/// Checks an event type: the `type` field of an event, and the `{type}` of
/// `GET /counts/{type}`. 1 to [`MAX_TYPE_LEN`] characters of `a-z`, `0-9`, `_`, `-`.
///
/// ```
/// use scheduler_worker::ingest::validate_type;
/// assert!(validate_type("page_view-2").is_ok());
/// assert_eq!(validate_type("Click").unwrap_err().field, "type");
/// assert!(validate_type(&"a".repeat(33)).unwrap_err().problem.contains("found 33 characters"));
/// ```
pub fn validate_type(kind: &str) -> Result<(), ValidationError> {
    let valid_chars = kind
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if kind.is_empty() || kind.len() > MAX_TYPE_LEN || !valid_chars {
        return Err(ValidationError::new(
            "type",
            format!(
                "must be 1 to {MAX_TYPE_LEN} characters of a-z, 0-9, `_` or `-`, found {}",
                shown(kind, MAX_TYPE_LEN)
            ),
        ));
    }
    Ok(())
}

/// `value` quoted for an error message, or only its length when it is longer than `limit`
/// (an oversized input is never echoed back).
pub(crate) fn shown(value: &str, limit: usize) -> String {
    if value.len() > limit {
        format!("{} characters", value.chars().count())
    } else {
        format!("{value:?}")
    }
}

fn parse_user(object: &Map<String, Value>) -> Result<String, ValidationError> {
    let user = required_string(object, "user")?;
    let length = user.chars().count();
    if length == 0 || length > MAX_USER_LEN {
        return Err(ValidationError::new(
            "user",
            format!("must be 1 to {MAX_USER_LEN} characters long, found {length}"),
        ));
    }
    Ok(user.to_string())
}

fn parse_values(object: &Map<String, Value>) -> Result<Vec<f64>, ValidationError> {
    let Value::Array(items) = required(object, "values")? else {
        let found = kind_of(&object["values"]);
        return Err(ValidationError::new(
            "values",
            format!("must be an array of numbers, found {found}"),
        ));
    };
    if items.is_empty() || items.len() > MAX_VALUES {
        return Err(ValidationError::new(
            "values",
            format!("must hold 1 to {MAX_VALUES} numbers, found {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item.as_f64() {
            Some(value) if value.is_finite() => Ok(value),
            _ => Err(ValidationError::new(
                format!("values[{index}]"),
                format!("must be a number, found {}", kind_of(item)),
            )),
        })
        .collect()
}

/// `a string`, `null`, `an array`… for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

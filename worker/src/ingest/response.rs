//! [`IngestResponse`]: a status code and a JSON body, independent of any HTTP crate so the
//! Worker (or a test) can map it onto its own response type.

use super::ValidationError;
use serde_json::{Value, json};

/// What the ingest handler answers: an HTTP status code and a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestResponse {
    /// The HTTP status code (202 accepted, 400 rejected, 200, 404, 405, 500).
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl IngestResponse {
    /// 202 `{"status":"accepted","id":…}`: the event is valid and will be processed.
    pub fn accepted(id: &str) -> Self {
        Self::new(202, json!({ "status": "accepted", "id": id }))
    }

    /// 400 `{"status":"rejected","field":…,"error":…}`: the event is invalid; nothing is stored.
    pub fn rejected(error: &ValidationError) -> Self {
        Self::new(
            400,
            json!({ "status": "rejected", "field": error.field, "error": error.to_string() }),
        )
    }

    /// 400 `{"status":"rejected","field":…,"error":…}` for a malformed path or query
    /// parameter (the `{id}` of `GET /events/{id}`, the `{type}` of `GET /counts/{type}`).
    pub fn invalid_parameter(error: &ValidationError) -> Self {
        Self::new(
            400,
            json!({
                "status": "rejected",
                "field": error.field,
                "error": format!("invalid parameter `{}`: {}", error.field, error.problem),
            }),
        )
    }

    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Self::new(200, body)
    }

    /// 404 `{"status":"not_found","error":…}`.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, json!({ "status": "not_found", "error": what }))
    }

    /// 405 `{"status":"method_not_allowed","error":…}`.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            json!({ "status": "method_not_allowed", "error": format!("{method} is not allowed on {path}") }),
        )
    }

    /// 500 `{"status":"error","error":…}`.
    pub fn internal_error(message: &str) -> Self {
        Self::new(500, json!({ "status": "error", "error": message }))
    }

    fn new(status: u16, body: Value) -> Self {
        Self { status, body }
    }

    /// The body as JSON text.
    pub fn body_text(&self) -> String {
        self.body.to_string()
    }

    /// The `id` of an accepted event.
    pub fn accepted_id(&self) -> Option<&str> {
        (self.status == 202).then(|| self.body["id"].as_str())?
    }
}

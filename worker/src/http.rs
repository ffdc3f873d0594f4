//! The HTTP edge of every route: the limits and checks that come before a handler (URL length,
//! query parameters, content type, body size, UTF-8), the JSON answers, and the mapping of the
//! handler's `IngestResponse` onto a `worker::Response`.
//!
//! Every rejection is a 4xx with a JSON body `{"status":…,"error":…}` (and `"field"` when one
//! input is at fault), like the handler's own 400s: 414 for an oversized URL, 400 for a
//! malformed, oversized, repeated or unknown query parameter, 413 for an oversized body, 415
//! for a body that is not JSON, 404 for an unknown route, 405 for a known route with another
//! method.

use crate::ingest::IngestResponse;
use serde_json::json;
use std::collections::HashMap;
use worker::{Method, Request, Response, Result};

/// The largest accepted event body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest accepted URL (scheme, host, path and query). Every route's inputs fit well
/// within it; the per-parameter limits are tighter.
pub const MAX_URL_BYTES: usize = 2048;

/// A value, or the 4xx response that answers the request instead.
pub type Rejectable<T> = std::result::Result<T, Response>;

/// The handler's answer as a `worker::Response`.
pub fn to_response(response: &IngestResponse) -> Result<Response> {
    json_response(response.status, &response.body)
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &serde_json::Value) -> Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// A 4xx or 5xx `{"status": kind, "error": message}`.
pub fn error(status: u16, kind: &str, message: &str) -> Result<Response> {
    json_response(status, &json!({ "status": kind, "error": message }))
}

/// 400 `{"status":"rejected","field":…,"error":…}`: one input (`field`) is at fault.
pub fn rejected(field: &str, message: &str) -> Result<Response> {
    json_response(
        400,
        &json!({ "status": "rejected", "field": field, "error": message }),
    )
}

/// 414 for a URL over [`MAX_URL_BYTES`], checked before routing.
pub fn check_url_length(request: &Request) -> Result<Rejectable<()>> {
    let length = request.url()?.as_str().len();
    if length > MAX_URL_BYTES {
        return Ok(Err(error(
            414,
            "uri_too_long",
            &format!("the URL must be at most {MAX_URL_BYTES} bytes, found {length}"),
        )?));
    }
    Ok(Ok(()))
}

/// A query parameter a route takes: its name, the longest value it accepts, and how a value
/// must look.
pub struct QueryParam {
    /// The parameter's name.
    pub name: &'static str,
    /// The longest accepted value, in bytes (after percent-decoding).
    pub max_len: usize,
    /// Checks a value (`None`: any text within the length).
    pub check: Option<ValueCheck>,
}

/// Checks a query value; `Err` says what is wrong, to be read after "invalid parameter
/// `name`: ".
pub type ValueCheck = fn(&str) -> std::result::Result<(), String>;

/// The query of `request`, checked against what the route takes (`allowed`): every parameter
/// known, given at most once, within its length and well-formed. Anything else is a 400 naming
/// the parameter. A route that takes no parameter passes `&[]`.
pub fn query(
    request: &Request,
    allowed: &[QueryParam],
) -> Result<Rejectable<HashMap<String, String>>> {
    let url = request.url()?;
    let mut values = HashMap::new();
    for (name, value) in url.query_pairs() {
        let Some(param) = allowed.iter().find(|param| param.name == name) else {
            let known: Vec<String> = allowed
                .iter()
                .map(|param| format!("`{}`", param.name))
                .collect();
            let takes = if known.is_empty() {
                "this route takes no query parameter".to_string()
            } else {
                format!("this route takes only {}", known.join(", "))
            };
            let shown = if name.len() > 64 {
                format!("of {} bytes", name.len())
            } else {
                format!("`{name}`")
            };
            return Ok(Err(rejected(
                &name,
                &format!("unknown query parameter {shown}: {takes}"),
            )?));
        };
        let problem = if values.contains_key(param.name) {
            Some("is given more than once".to_string())
        } else if value.len() > param.max_len {
            Some(format!(
                "must be at most {} bytes, found {}",
                param.max_len,
                value.len()
            ))
        } else {
            param.check.and_then(|check| check(&value).err())
        };
        if let Some(problem) = problem {
            return Ok(Err(rejected(
                param.name,
                &format!("invalid parameter `{}`: {problem}", param.name),
            )?));
        }
        values.insert(param.name.to_string(), value.into_owned());
    }
    Ok(Ok(values))
}

/// The body of a `POST` that must be JSON of at most `max_bytes`, as text, or the 4xx answer
/// (415 for another content type, 413 when too large, 400 when it breaks off or is not UTF-8).
/// The body is an I/O object of the fetch event: read it in the handler, before any session.
pub async fn read_json_body(request: &mut Request, max_bytes: usize) -> Result<Rejectable<String>> {
    let content_type = request.headers().get("content-type")?.unwrap_or_default();
    if !is_json(&content_type) {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type.as_str()
        };
        return Ok(Err(error(
            415,
            "unsupported_media_type",
            &format!("content-type must be application/json, found {shown}"),
        )?));
    }
    let declared = request
        .headers()
        .get("content-length")?
        .and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > max_bytes) {
        return Ok(Err(too_large(max_bytes)?));
    }
    let bytes = match request.bytes().await {
        Ok(bytes) => bytes,
        // The body broke off: its client went away mid-upload. Nobody reads this answer, but
        // the Worker must not throw either (an uncaught error is a 500 and an exception in the
        // logs for every client that hangs up while sending).
        Err(error) => {
            return Ok(Err(rejected(
                "body",
                &format!("field `body` could not be read: {error}"),
            )?));
        }
    };
    if bytes.len() > max_bytes {
        return Ok(Err(too_large(max_bytes)?));
    }
    match String::from_utf8(bytes) {
        Ok(body) => Ok(Ok(body)),
        Err(_) => Ok(Err(rejected("body", "field `body` is not valid UTF-8")?)),
    }
}

/// `application/json`, with or without parameters such as `; charset=utf-8`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn too_large(max_bytes: usize) -> Result<Response> {
    error(
        413,
        "payload_too_large",
        &format!("the body must be at most {max_bytes} bytes"),
    )
}

/// 404 for a path no route serves.
pub fn no_route(method: &Method, path: &str) -> Result<Response> {
    error(
        404,
        "not_found",
        &format!("no route for {method} {}", shown_path(path)),
    )
}

/// `worker::Router` answers a known path asked with another method itself, with a plain-text
/// 405 ("Method Not Allowed"). Every other answer of this Worker is JSON, so that one is told
/// apart by its missing content type and re-answered as JSON naming the method and the path.
pub fn method_not_allowed_as_json(
    method: &Method,
    path: &str,
    response: Response,
) -> Result<Response> {
    let is_json = response
        .headers()
        .get("content-type")?
        .is_some_and(|content_type| is_json(&content_type));
    if response.status_code() != 405 || is_json {
        return Ok(response);
    }
    error(
        405,
        "method_not_allowed",
        &format!("{method} is not allowed on {}", shown_path(path)),
    )
}

/// A path for a message: as it is, or cut after 100 bytes.
pub fn shown_path(path: &str) -> String {
    match path.char_indices().nth(100) {
        Some((cut, _)) => format!("{}… ({} bytes)", &path[..cut], path.len()),
        None => path.to_string(),
    }
}

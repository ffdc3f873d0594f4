//! The HTTP edge of the ingest routes: the checks that come before the handler (content type,
//! body size, UTF-8) and the mapping of its `IngestResponse` onto a `worker::Response`.

use crate::ingest::{EventStore, IngestResponse, IngestService};
use scheduler::cloud::ExecutionContext;
use scheduler::cloud::PlatformRuntime;
use serde_json::json;
use worker::{Method, Request, Response, Result};

/// The largest accepted event body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request reduced to what the ingest handler needs, read before the handler runs (the
/// request body is an I/O object of the fetch event: it is read in the event's own context).
pub struct IngestRequest {
    method: Method,
    body: String,
}

impl IngestRequest {
    /// Reads `request`: its method, and for a `POST` its body after the content-type and size
    /// checks. A request that fails them, or whose body breaks off (its client went away), is
    /// answered here (415, 413 or 400).
    pub async fn read(mut request: Request) -> Result<Rejectable<Self>> {
        let method = request.method();
        let body = if method == Method::Post {
            match read_event_body(&mut request).await? {
                Ok(body) => body,
                Err(rejection) => return Ok(Err(rejection)),
            }
        } else {
            String::new()
        };
        Ok(Ok(Self { method, body }))
    }

    /// Serves the request on ingest route `path` (without any `/peer` prefix) with `service`.
    pub async fn serve<R, S, C>(
        self,
        service: &IngestService<R, S>,
        ctx: &C,
        path: &str,
    ) -> Result<Response>
    where
        R: PlatformRuntime + 'static,
        S: EventStore + 'static,
        C: ExecutionContext,
    {
        to_response(&self.respond(service, ctx, path).await)
    }

    /// The handler's answer to the request on ingest route `path`. A `POST /events` is answered
    /// within the first poll (the handler registers its `wait_until` work and returns).
    pub async fn respond<R, S, C>(
        &self,
        service: &IngestService<R, S>,
        ctx: &C,
        path: &str,
    ) -> IngestResponse
    where
        R: PlatformRuntime + 'static,
        S: EventStore + 'static,
        C: ExecutionContext,
    {
        service
            .route(ctx, self.method.as_ref(), path, &self.body)
            .await
    }

    /// The request body (empty unless it is a `POST`).
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// The handler's answer as a `worker::Response`.
pub fn to_response(response: &IngestResponse) -> Result<Response> {
    json_response(response.status, &response.body)
}

/// A value, or the 4xx response that answers the request instead.
pub type Rejectable<T> = std::result::Result<T, Response>;

/// The body of a `POST`, or the 4xx answer when it cannot be an event.
async fn read_event_body(request: &mut Request) -> Result<Rejectable<String>> {
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
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Ok(Err(too_large()?));
    }
    let bytes = match request.bytes().await {
        Ok(bytes) => bytes,
        // The body broke off: its client went away mid-upload. Nobody reads this answer, but
        // the Worker must not throw either (an uncaught error is a 500 and an exception in the
        // logs for every client that hangs up while sending).
        Err(error) => {
            return Ok(Err(json_response(
                400,
                &json!({
                    "status": "rejected",
                    "field": "body",
                    "error": format!("invalid event: field `body` could not be read: {error}"),
                }),
            )?));
        }
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Ok(Err(too_large()?));
    }
    match String::from_utf8(bytes) {
        Ok(body) => Ok(Ok(body)),
        Err(_) => Ok(Err(json_response(
            400,
            &json!({
                "status": "rejected",
                "field": "body",
                "error": "invalid event: field `body` is not valid UTF-8",
            }),
        )?)),
    }
}

/// `application/json`, with or without parameters such as `; charset=utf-8`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn too_large() -> Result<Response> {
    error(
        413,
        "payload_too_large",
        &format!("the event body must be at most {MAX_BODY_BYTES} bytes"),
    )
}

fn error(status: u16, kind: &str, message: &str) -> Result<Response> {
    json_response(status, &json!({ "status": kind, "error": message }))
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &serde_json::Value) -> Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

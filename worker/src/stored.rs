//! `GET /debug/stored`: how many event summaries KV holds, for the main routes and for the
//! `/peer` routes (by listing the `event:` and `peer/event:` keys). The load benchmark compares
//! them with the 202 answers. Served only with `DEBUG_ROUTES = "true"`.

use crate::http::json_response;
use crate::isolate::KV_BINDING;
use serde_json::json;
use worker::{Env, KvStore, Response, Result};

/// Counts the stored summaries (404 when debug routes are disabled).
pub async fn respond(env: &Env, enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
    }
    let kv = env.kv(KV_BINDING)?;
    let ours = count_keys(&kv, "event:").await?;
    let peer = count_keys(&kv, "peer/event:").await?;
    json_response(200, &json!({ "ours": ours, "peer": peer }))
}

async fn count_keys(kv: &KvStore, prefix: &str) -> Result<u64> {
    let mut count = 0;
    let mut cursor = None;
    loop {
        let mut list = kv.list().prefix(prefix.to_string());
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page = list.execute().await?;
        count += page.keys.len() as u64;
        if page.list_complete {
            return Ok(count);
        }
        cursor = match page.cursor {
            Some(cursor) => Some(cursor),
            None => return Ok(count),
        };
    }
}

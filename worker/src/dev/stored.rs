//! `GET /debug/stored`: how many event summaries KV holds, for the main routes and for the
//! `/peer` routes (by listing the `event:` and `peer/event:` keys). The load benchmark compares
//! them with the 202 answers. With `?ids=true`, also the ids of the main routes' summaries (the
//! fault suite checks them one by one; `ids` is `true` or `false`). A dev route.

use crate::http::{self, QueryParam, json_response};
use crate::isolate::KV_BINDING;
use serde_json::json;
use worker::{Context, KvStore, Request, Response, Result, RouteContext};

/// The query: `ids`, `true` or `false` (the default).
const QUERY: &[QueryParam] = &[QueryParam {
    name: "ids",
    max_len: 5,
    check: Some(|value| match value {
        "true" | "false" => Ok(()),
        other => Err(format!("must be `true` or `false`, found {other:?}")),
    }),
}];

/// `GET /debug/stored[?ids=true]`: counts the stored summaries.
pub async fn get(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let query = match http::query(&request, QUERY)? {
        Ok(query) => query,
        Err(rejection) => return Ok(rejection),
    };
    let with_ids = query.get("ids").is_some_and(|ids| ids == "true");
    let kv = route.env.kv(KV_BINDING)?;
    let ours = list_keys(&kv, "event:").await?;
    let peer = list_keys(&kv, "peer/event:").await?;
    let mut body = json!({ "ours": ours.len(), "peer": peer.len() });
    if with_ids {
        let ids: Vec<&str> = ours
            .iter()
            .map(|key| key.strip_prefix("event:").unwrap_or(key))
            .collect();
        body["ids"] = json!(ids);
    }
    json_response(200, &body)
}

/// Every key under `prefix`.
async fn list_keys(kv: &KvStore, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let mut list = kv.list().prefix(prefix.to_string());
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page = list.execute().await?;
        keys.extend(page.keys.into_iter().map(|key| key.name));
        if page.list_complete {
            return Ok(keys);
        }
        cursor = match page.cursor {
            Some(cursor) => Some(cursor),
            None => return Ok(keys),
        };
    }
}

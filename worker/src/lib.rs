//! The event-ingest Worker. See `worker/README.md`.
#![cfg(target_arch = "wasm32")]

use worker::*;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let kv = env.kv("EVENTS")?;
    kv.put("probe", req.path())?.execute().await?;
    Response::ok(kv.get("probe").text().await?.unwrap_or_default())
}

-- wrk script: POST one event per request to the route given as wrk's URL path.
-- The event type comes from the BENCH_TYPE environment variable (unique per run), so the
-- per-type counter afterwards counts exactly the events this run stored.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = string.format('{"type":"%s","user":"bench","values":[1,2.5,40]}', os.getenv("BENCH_TYPE"))

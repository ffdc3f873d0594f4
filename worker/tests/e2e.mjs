// End-to-end tests of the example app served by `wrangler dev` (workerd) on loopback, as the dev
// server (dev routes on: --var DEV_ROUTES:true; deploy.mjs checks the deploy configuration).
// Run by scripts/test.d/60-worker-e2e.sh, which starts and stops the server:
//   WORKER_URL=http://127.0.0.1:PORT WRANGLER_LOG=path node worker/tests/e2e.mjs
// Every request has a time-out and every wait is bounded; a failing test exits non-zero.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { DEV_ROUTES, UNLISTED_DEV_PATHS, isDevOnlyAnswer, send } from "./dev_routes.mjs";

const BASE = process.env.WORKER_URL;
const WRANGLER_LOG = process.env.WRANGLER_LOG;
if (!BASE) throw new Error("WORKER_URL is not set");
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_BODY_BYTES = 64 * 1024;
// Unique per run: the KV state may persist between runs.
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

async function request(method, path, { body, contentType, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (contentType) init.headers["content-type"] = contentType;
  if (body !== undefined) init.body = body;
  const response = await fetch(BASE + path, init);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

const postEvent = (event, path = "/events") =>
  request("POST", path, { body: JSON.stringify(event), contentType: "application/json" });

/** Calls `probe` every `intervalMs` until it returns a value other than undefined. */
async function until(what, probe, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function storedSummary(id, path = "/events") {
  return until(`${path}/${id} to be stored`, async () => {
    const response = await request("GET", `${path}/${id}`);
    if (response.status === 200) return response.json;
    assert.equal(response.status, 404, `GET ${path}/${id}: ${response.text}`);
    return undefined;
  });
}

async function count(type, prefix = "") {
  const response = await request("GET", `${prefix}/counts/${type}`);
  assert.equal(response.status, 200, response.text);
  return response.json.count;
}

/** Waits until no wait_until work of the main routes is pending (the counters are updated
 * after the summary is stored, so counts are final only then). */
async function settled() {
  return until("every wait_until job to settle", async () => {
    const stats = (await request("GET", "/stats")).json;
    return stats.wait_until.pending === 0 ? stats : undefined;
  });
}

const tests = [];
const test = (name, body) => tests.push({ name, body });

test("an event posted is answered 202 at once and stored in KV by its wait_until work afterwards", async () => {
  // 32 values: the totals stage alone waits 32 x 15 ms, so processing outlasts the response.
  const values = Array.from({ length: 32 }, (_, i) => i * 2 - 7);
  const type = `single${RUN}`;
  const accepted = await postEvent({ type, user: "ada", values });
  assert.equal(accepted.status, 202, accepted.text);
  assert.equal(accepted.json.status, "accepted");
  const id = accepted.json.id;
  assert.match(id, /^evt-[0-9a-f]{8}-\d{6}$/);
  const early = await request("GET", `/events/${id}`);
  assert.equal(early.status, 404, `stored before the response's wait_until work could finish: ${early.text}`);
  const summary = await storedSummary(id);
  assert.equal(summary.id, id);
  assert.equal(summary.type, type);
  assert.equal(summary.user, "ada");
  assert.equal(summary.count, 32);
  assert.equal(summary.sum, values.reduce((a, b) => a + b, 0));
  assert.equal(summary.min, -7);
  assert.equal(summary.max, 55);
  await settled();
  assert.equal(await count(type), 1);
});

test("500 events from 50 concurrent clients are all stored exactly once", async () => {
  const clients = 50;
  const perClient = 10;
  const type = `load${RUN}`;
  const accepted = new Map(); // id -> event
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; n < perClient; n++) {
        const event = { type, user: `client${client}-event${n}`, values: [client, n, client * n] };
        const response = await postEvent(event);
        assert.equal(response.status, 202, response.text);
        assert.ok(!accepted.has(response.json.id), `id ${response.json.id} handed out twice`);
        accepted.set(response.json.id, event);
      }
    }),
  );
  assert.equal(accepted.size, clients * perClient);
  const ids = [...accepted.keys()];
  // 50 readers at a time, each polling its ids until stored.
  for (let start = 0; start < ids.length; start += clients) {
    await Promise.all(
      ids.slice(start, start + clients).map(async (id) => {
        const event = accepted.get(id);
        const summary = await storedSummary(id);
        assert.equal(summary.id, id);
        assert.equal(summary.user, event.user, `summary of ${id} belongs to another event`);
        assert.equal(summary.sum, event.values.reduce((a, b) => a + b, 0));
      }),
    );
  }
  // Each event's processing ran exactly once: the counter went up exactly once per event.
  const stats = await settled();
  assert.equal(await count(type), clients * perClient);
  assert.equal(stats.counter_increments_pending, 0, JSON.stringify(stats));
});

test("each type's counter is a Durable Object that counts every event once, through resets of the object", async () => {
  const type = `object${RUN}`;
  const clients = 8;
  const perClient = 6;
  const accepted = new Set();
  let resets = 0;
  const posting = Promise.all(Array.from({ length: clients }, async (_, client) => {
    for (let n = 0; n < perClient; n++) {
      const response = await postEvent({ type, user: `c${client}-${n}`, values: [n] });
      assert.equal(response.status, 202, response.text);
      accepted.add(response.json.id);
    }
  }));
  // Resets while the events' increments are in flight: the Worker sends them again.
  for (let n = 0; n < 4; n++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const reset = await request("POST", `/debug/counter/reset?type=${type}`);
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.reset, true, `the object was not reset: ${reset.text}`);
    assert.match(reset.json.answer, /reset on purpose/);
    resets += 1;
  }
  await posting;
  const stats = await settled();
  assert.deepEqual(stats.ingest_failures, []);
  assert.equal(await count(type), clients * perClient);
  // The object's own record: every accepted event, each with its own count 1..n.
  const audit = (await request("GET", `/debug/counter?type=${type}`)).json;
  assert.equal(audit.count, clients * perClient);
  assert.deepEqual(new Set(audit.applied.map(([id]) => id)), accepted);
  assert.deepEqual(audit.applied.map(([, made]) => made).sort((a, b) => a - b),
    Array.from({ length: clients * perClient }, (_, i) => i + 1));
  // The events in flight at each reset ended with the object's next instance.
  const after = await until("every counter object session to end", async () => {
    const stats = (await request("GET", "/stats")).json;
    const objects = stats.durable_objects;
    return objects.events === objects.sessions_ended ? stats : undefined;
  });
  assert.ok(after.durable_objects.abandoned_events >= resets, JSON.stringify(after.durable_objects));
  assert.equal(after.durable_objects.leaked_tasks, 0);
  assert.equal(after.counter.given_up, 0, JSON.stringify(after.counter));
});

test("a panicking counter object event fails alone (a 500 naming the panic); the object, its count and its other events carry on", async () => {
  const type = `panic${RUN}`;
  const before = (await request("GET", "/stats")).json;
  const first = await postEvent({ type, user: "p1", values: [1] });
  assert.equal(first.status, 202, first.text);
  await settled();
  const panicked = await request("POST", `/debug/counter/panic?type=${type}`);
  assert.equal(panicked.status, 200, panicked.text);
  assert.equal(panicked.json.panicked, true, `not the handler's panic: ${panicked.text}`);
  assert.match(panicked.json.answer, /panicked: panic on purpose/);
  // The same object goes on counting: before and after the panic, each event once.
  const second = await postEvent({ type, user: "p2", values: [2] });
  assert.equal(second.status, 202, second.text);
  const stats = await settled();
  assert.deepEqual(stats.ingest_failures, []);
  assert.equal(await count(type), 2);
  const audit = (await request("GET", `/debug/counter?type=${type}`)).json;
  assert.deepEqual(new Set(audit.applied.map(([id]) => id)), new Set([first.json.id, second.json.id]));
  const after = await until("every counter object session to end", async () => {
    const stats = (await request("GET", "/stats")).json;
    const objects = stats.durable_objects;
    return objects.events === objects.sessions_ended ? stats : undefined;
  });
  const objects = after.durable_objects;
  assert.equal(objects.handlers_panicked, before.durable_objects.handlers_panicked + 1, JSON.stringify(objects));
  // Not reset: no event of any object was abandoned since.
  assert.equal(objects.abandoned_events, before.durable_objects.abandoned_events, JSON.stringify(objects));
  assert.equal(objects.leaked_tasks, 0);
  assert.equal(after.tasks.panicked, before.tasks.panicked + 1, "the object's handler task panicked, alone");
  if (WRANGLER_LOG) {
    // The report names the object, the event and its session, and the panic.
    const named = await until("the panic's line in the wrangler log", async () => {
      const log = readFileSync(WRANGLER_LOG, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
      return log.split("\n").find((line) =>
        line.includes(`scheduler: the fetch event of durable object ${type} (`) &&
        line.includes("panic on purpose"));
    }, { timeoutMs: 5_000 });
    assert.match(named, /the handler of session#\d+ panicked: task#\d+ spawned at /);
  }
});

test("a busy counter object event does not starve the isolate: requests are served while it runs (its session yields per time slice)", async () => {
  const type = `busy${RUN}`;
  const before = (await request("GET", "/stats")).json;
  let done = false;
  // Millions of yields: seconds of one event's work, as one session of the isolate's scheduler.
  const busy = request("POST", `/debug/counter/busy?type=${type}&yields=600000`).then((answer) => {
    done = true;
    return answer;
  });
  // Served while the object's event is still running: /stats shows it in flight. Without the
  // per-session slices the isolate would serve nothing until the event ended.
  const during = await until("/stats answered while the busy object event runs", async () => {
    const stats = (await request("GET", "/stats")).json;
    const objects = stats.durable_objects;
    assert.equal(done, false, "the busy event ended before any request was served beside it");
    return objects.events > objects.sessions_ended && stats.macrotask_yields > before.macrotask_yields
      ? stats : undefined;
  }, { intervalMs: 20 });
  assert.ok(during.continuations > before.continuations, JSON.stringify(during));
  const answer = await busy;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.json.yields, 600000);
});

test("a value handed from one request to a waiting request wakes it in its own I/O context", async () => {
  const before = (await request("GET", "/stats")).json.routed_wakes;
  const key = `handoff${RUN}`;
  const waiting = request("GET", `/debug/handoff?key=${key}`);
  // 409 until the waiting request has registered; bounded.
  await until("the waiting request to register", async () => {
    const response = await request("GET", `/debug/handoff?key=${key}&value=42`);
    if (response.status === 200) return true;
    assert.equal(response.status, 409, response.text);
    return undefined;
  }, { timeoutMs: 10_000 });
  const received = await waiting;
  assert.equal(received.status, 200, received.text);
  assert.equal(received.json.value, "42");
  const after = (await request("GET", "/stats")).json.routed_wakes;
  assert.ok(after > before, `the cross-request wake was not routed: ${before} -> ${after}`);
  // A key nobody waits for is refused, and the route names a missing key.
  assert.equal((await request("GET", `/debug/handoff?key=none${RUN}&value=1`)).status, 409);
  assert.equal((await request("GET", "/debug/handoff")).json.field, "key");
});

test("every bad input gets its 4xx, nothing is stored, and the Worker keeps serving", async () => {
  const type = `bad${RUN}`;
  const good = { type, user: "ada", values: [1] };
  const cases = [
    { name: "text/plain", status: 415, body: JSON.stringify(good), contentType: "text/plain" },
    { name: "no content type", status: 415, body: new Blob([JSON.stringify(good)]) },
    { name: "form content type", status: 415, body: "type=x", contentType: "application/x-www-form-urlencoded" },
    { name: "one byte over 64 KiB", status: 413, body: " ".repeat(MAX_BODY_BYTES + 1), contentType: "application/json" },
    { name: "1 MiB", status: 413, body: "x".repeat(1 << 20), contentType: "application/json" },
    { name: "not JSON", status: 400, field: "body", body: "{not json", contentType: "application/json" },
    { name: "an array", status: 400, field: "body", body: "[1,2]", contentType: "application/json" },
    { name: "missing type", status: 400, field: "type", body: JSON.stringify({ user: "ada", values: [1] }) },
    { name: "bad type", status: 400, field: "type", body: JSON.stringify({ ...good, type: "Has Spaces" }) },
    { name: "empty user", status: 400, field: "user", body: JSON.stringify({ ...good, user: "" }) },
    { name: "values not an array", status: 400, field: "values", body: JSON.stringify({ ...good, values: 3 }) },
    { name: "a value not a number", status: 400, field: "values[1]", body: JSON.stringify({ ...good, values: [1, "2"] }) },
    { name: "unknown field", status: 400, field: "extra", body: JSON.stringify({ ...good, extra: true }) },
    { name: "charset parameter is fine but event bad", status: 400, field: "values", body: JSON.stringify({ ...good, values: [] }), contentType: "application/json; charset=utf-8" },
  ];
  for (const bad of cases) {
    const contentType = bad.contentType ?? (bad.status === 400 ? "application/json" : undefined);
    const response = await request("POST", "/events", { body: bad.body, contentType });
    assert.equal(response.status, bad.status, `${bad.name}: ${response.text}`);
    assert.ok(response.json, `${bad.name}: the error is JSON: ${response.text}`);
    assert.equal(typeof response.json.error, "string", `${bad.name}: ${response.text}`);
    if (bad.field) {
      assert.equal(response.json.field, bad.field, `${bad.name}: ${response.text}`);
      assert.ok(response.json.error.includes(`\`${bad.field}\``), `${bad.name}: the message names the field`);
    }
    // Still serving after every bad input.
    const stats = await request("GET", "/stats");
    assert.equal(stats.status, 200, `after ${bad.name}: ${stats.text}`);
  }
  const unknown = await request("GET", `/events/evt-00000000-000000`);
  assert.equal(unknown.status, 404, unknown.text);
  const wrongMethod = await request("DELETE", "/events");
  assert.equal(wrongMethod.status, 405, wrongMethod.text);
  assert.equal(await count(type), 0, "a rejected event was counted");
  const accepted = await postEvent(good);
  assert.equal(accepted.status, 202, accepted.text);
  await storedSummary(accepted.json.id);
  await settled();
  assert.equal(await count(type), 1);
});

test("the spawn_local peer route serves the same handler into its own keys", async () => {
  const type = `peer${RUN}`;
  const accepted = await postEvent({ type, user: "bob", values: [3, 4] }, "/peer/events");
  assert.equal(accepted.status, 202, accepted.text);
  const summary = await storedSummary(accepted.json.id, "/peer/events");
  assert.equal(summary.sum, 7);
  const peerCount = await until("the peer's counter", async () => {
    const value = await count(type, "/peer");
    return value > 0 ? value : undefined;
  });
  assert.equal(peerCount, 1);
  assert.equal(await count(type), 0, "the peer wrote into the main routes' keys");
  const rejected = await request("POST", "/peer/events", { body: "{}", contentType: "text/plain" });
  assert.equal(rejected.status, 415);
});

// The CPU-bound benchmark handler (worker/src/fanout.rs), recomputed here to check answers.
const MASK = (1n << 64n) - 1n;
function mix(value) {
  let z = (value + 0x9E3779B97F4A7C15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & MASK;
  return z ^ (z >> 31n);
}
function expectedFanoutSum(request) {
  let sum = 0n;
  for (let index = 0n; index < 10n; index++) {
    let value = mix(BigInt(request) ^ (index << 48n));
    for (let i = 0; i < 4; i++) value = mix(value);
    sum = (sum + value) & MASK;
  }
  return sum.toString();
}

test("the fanout routes (ours and spawn_local) answer, and every wait_until job lands exactly once", async () => {
  const bench = async () => {
    const response = await request("GET", "/debug/bench");
    assert.equal(response.status, 200, response.text);
    return response.json;
  };
  const before = await bench();
  const perRoute = 60;
  for (const [route, path] of [["ours", "/fanout"], ["peer", "/peer/fanout"]]) {
    const answers = await Promise.all(
      Array.from({ length: perRoute }, async () => {
        const response = await request("GET", path);
        assert.equal(response.status, 200, `${path}: ${response.text}`);
        assert.equal(response.json.sum, expectedFanoutSum(response.json.request), `${path}: ${response.text}`);
        return response.json.request;
      }),
    );
    assert.equal(new Set(answers).size, perRoute, `${path}: a request number was handed out twice`);
    const after = await until(`${route}'s wait_until jobs to land`, async () => {
      const tally = (await bench()).fanout[route];
      return tally.pending === 0 && tally.jobs_completed >= before.fanout[route].jobs_completed + perRoute
        ? tally : undefined;
    }, { timeoutMs: 15_000 });
    const was = before.fanout[route];
    assert.equal(after.requests - was.requests, perRoute, JSON.stringify(after));
    assert.equal(after.jobs_registered - was.jobs_registered, perRoute, JSON.stringify(after));
    assert.equal(after.jobs_completed - was.jobs_completed, perRoute, JSON.stringify(after));
    assert.equal(after.doubled, 0, JSON.stringify(after));
    assert.equal(after.wrong_sums, 0, JSON.stringify(after));
  }
  // The ingest routes' 202s are counted by the server too (the benchmark's reference).
  const accepted = await postEvent({ type: `benchcount${RUN}`, user: "ada", values: [1] });
  assert.equal(accepted.status, 202, accepted.text);
  const peerAccepted = await postEvent({ type: `benchcount${RUN}`, user: "ada", values: [1] }, "/peer/events");
  assert.equal(peerAccepted.status, 202, peerAccepted.text);
  const after = await bench();
  assert.equal(after.ingest.ours.accepted, before.ingest.ours.accepted + 1);
  assert.equal(after.ingest.peer.accepted, before.ingest.peer.accepted + 1);
  await storedSummary(accepted.json.id);
  await storedSummary(peerAccepted.json.id, "/peer/events");
  await settled();
});

/** Errors the Worker threw, as wrangler logs them: every [ERROR] line except wrangler's dev
 * proxy noting a lost client and the scheduler's own leak reports. */
function workerErrors() {
  const log = readFileSync(WRANGLER_LOG, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  return log.split("\n").filter((line) => line.includes("[ERROR]") &&
    !line.includes("Error inside ProxyWorker") && !line.includes("scheduler: "));
}

test("a client that hangs up while sending its event makes the Worker throw nothing", async () => {
  if (!WRANGLER_LOG) return;
  // Regression: the body read failed with an uncaught error (a 500 and an [ERROR] line per
  // client that went away mid-upload); now it is a 400 that nobody reads.
  const before = workerErrors().length;
  const body = JSON.stringify({ type: `hangup${RUN}`, user: "ada", values: [1, 2, 3] });
  const url = new URL(BASE);
  for (let n = 0; n < 20; n++) {
    await new Promise((resolve) => {
      const cut = http.request({
        host: url.hostname, port: url.port, path: "/events", method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      });
      cut.on("error", () => {});
      cut.write(body.slice(0, 10));
      setTimeout(() => { cut.destroy(); resolve(); }, 20 + n * 5);
    });
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const thrown = workerErrors().slice(before);
  assert.deepEqual(thrown, [], `the Worker threw ${thrown.length} errors`);
  assert.equal(await count(`hangup${RUN}`), 0);
  assert.equal((await request("GET", "/stats")).status, 200);
});

let deliberateLeaks = 0;
test("a task leaked by a handler is cancelled when its request ends, and logged", async () => {
  const before = (await request("GET", "/stats")).json;
  const leak = await request("GET", "/debug/leak");
  assert.equal(leak.status, 200, leak.text);
  deliberateLeaks += 1;
  const after = await until("the leak to be counted", async () => {
    const stats = (await request("GET", "/stats")).json;
    return stats.leaked_tasks > before.leaked_tasks ? stats : undefined;
  });
  assert.equal(after.leaked_tasks, before.leaked_tasks + 1);
  assert.equal(after.tasks.cancelled, before.tasks.cancelled + 1, "the leaked task was cancelled");
  if (WRANGLER_LOG) {
    const line = `task#${leak.json.task} [label debug-leak]`;
    const logged = await until("the console.error line in the wrangler log", async () =>
      readFileSync(WRANGLER_LOG, "utf8").includes(line) ? true : undefined,
    { timeoutMs: 5_000 });
    assert.ok(logged);
    const log = readFileSync(WRANGLER_LOG, "utf8");
    assert.ok(log.includes(`spawned at ${leak.json.spawned_at} still running; cancelling it`), "the log names the spawn location");
  }
});

test("every route checks its inputs: a malformed or oversized one gets a 4xx with a JSON message", async () => {
  const long = (n, c = "a") => c.repeat(n);
  const cases = [
    // [method, path, status, field (or undefined), body]
    ["GET", `/events/${long(65, "e")}`, 400, "id"],
    ["GET", "/events/evt%20one", 400, "id"],
    ["GET", "/events/evt.1", 400, "id"],
    ["GET", `/counts/${long(33)}`, 400, "type"],
    ["GET", "/counts/Click", 400, "type"],
    ["GET", "/counts/a%2Fb", 400, "type"],
    ["GET", `/peer/events/${long(65, "e")}`, 400, "id"],
    ["GET", "/peer/counts/Click", 400, "type"],
    ["GET", `/debug/handoff?key=${long(65, "k")}`, 400, "key"],
    ["GET", "/debug/handoff?key=a%20b", 400, "key"],
    ["GET", "/debug/handoff?key=", 400, "key"],
    ["GET", `/debug/handoff?key=k${RUN}&value=${long(257, "v")}`, 400, "value"],
    ["GET", `/debug/handoff?key=k${RUN}&key=j${RUN}`, 400, "key"],
    ["GET", `/debug/handoff?key=k${RUN}&colour=red`, 400, "colour"],
    ["GET", "/debug/accepted?type=Not%20A%20Type", 400, "type"],
    ["POST", "/debug/accepted", 400, "type"],
    ["GET", "/debug/stored?ids=maybe", 400, "ids"],
    ["GET", "/stats?verbose=1", 400, "verbose"],
    ["GET", "/debug/leak?now=1", 400, "now"],
    ["GET", "/fanout?n=1", 400, "n"],
    ["POST", "/events?debug=1", 400, "debug", JSON.stringify({ type: "x", user: "ada", values: [1] })],
    ["POST", "/debug/faults", 400, "body", "{\"seed\": \"one\"}"],
    ["POST", "/debug/faults", 400, "body", "{\"get_failure\": 2}"],
    ["POST", "/debug/faults", 413, undefined, `{"seed":1,"pad":"${long(5000, " ")}"}`],
    ["GET", `/events/${long(2100, "e")}`, 414],
    ["GET", `/stats?${long(2100, "q")}`, 414],
  ];
  for (const [method, path, status, field, body] of cases) {
    const response = await send(BASE, [method, path, body]);
    const name = `${method} ${path.slice(0, 80)}`;
    assert.equal(response.status, status, `${name}: ${response.text}`);
    assert.ok(response.json, `${name}: the error is JSON: ${response.text}`);
    assert.equal(typeof response.json.error, "string", `${name}: ${response.text}`);
    assert.ok(response.json.error.length < 300, `${name}: an oversized input is not echoed back: ${response.text.length} bytes`);
    if (field) {
      assert.equal(response.json.field, field, `${name}: ${response.text}`);
      assert.equal(response.json.status, "rejected", `${name}: ${response.text}`);
    }
  }
  // A plan sent as text is refused like an event sent as text.
  const plainPlan = await request("POST", "/debug/faults", { body: "{}", contentType: "text/plain" });
  assert.equal(plainPlan.status, 415, plainPlan.text);
  // Still serving, and no fault plan was taken.
  const faults = await request("GET", "/debug/faults");
  assert.equal(faults.status, 200, faults.text);
  assert.equal(faults.json.active, false, faults.text);
});

test("unknown routes get a 404 and known routes another method a 405, each with a JSON message", async () => {
  const cases = [
    ["GET", "/", 404, "no route for GET /"],
    ["GET", "/nowhere", 404, "no route for GET /nowhere"],
    ["POST", "/events/extra/segments", 404, "no route for POST /events/extra/segments"],
    ["GET", "/debug/nothing-here", 404, "no route for GET /debug/nothing-here"],
    ["PUT", "/stats", 405, "PUT is not allowed on /stats"],
    ["DELETE", "/events", 405, "DELETE is not allowed on /events"],
    ["GET", "/events", 405, "GET is not allowed on /events"],
    ["POST", `/counts/click`, 405, "POST is not allowed on /counts/click"],
    ["PATCH", "/debug/faults", 405, "PATCH is not allowed on /debug/faults"],
  ];
  for (const [method, path, status, error] of cases) {
    const response = await request(method, path);
    assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
    assert.ok(response.json, `${method} ${path}: the answer is JSON: ${response.text}`);
    assert.equal(response.json.error, error, `${method} ${path}`);
  }
});

test("the dev server serves every dev-only route (the deploy configuration answers them 404)", async () => {
  for (const route of DEV_ROUTES) {
    const [method, path] = route;
    const answer = await send(BASE, route);
    if (path === "/debug/leak") deliberateLeaks += 1;
    assert.ok(!isDevOnlyAnswer(answer), `${method} ${path}: ${answer.text}`);
    assert.ok(answer.status < 500, `${method} ${path}: ${answer.status} ${answer.text}`);
    assert.ok(answer.json, `${method} ${path}: ${answer.text}`);
    assert.ok(!String(answer.json.error ?? "").startsWith("no route for"), `${method} ${path} is not mounted: ${answer.text}`);
  }
  // Paths under a dev prefix that no route serves are plain 404s here, not "dev-only".
  for (const route of UNLISTED_DEV_PATHS) {
    const answer = await send(BASE, route);
    assert.ok([404, 405].includes(answer.status), `${route[0]} ${route[1]}: ${answer.text}`);
    assert.ok(!isDevOnlyAnswer(answer), `${route[0]} ${route[1]}: ${answer.text}`);
  }
  await settled();
});

test("/stats shows no leaked or dangling tasks afterwards", async () => {
  const stats = await until("every session to end", async () => {
    const stats = (await request("GET", "/stats")).json;
    return stats.sessions.length === 0 && stats.wait_until.pending === 0 ? stats : undefined;
  });
  assert.equal(stats.tasks.running, 0, JSON.stringify(stats));
  // Panicked: only the counter object handler made to panic on purpose.
  assert.equal(stats.tasks.panicked, stats.durable_objects.handlers_panicked);
  assert.equal(stats.tasks.spawned, stats.tasks.completed + stats.tasks.cancelled + stats.tasks.panicked);
  // Cancelled: the deliberately leaked tasks, and the handler tasks of counter object events a
  // reset abandoned (left waiting on a promise of the reset instance).
  const abandonedHandlers = stats.tasks.cancelled - deliberateLeaks;
  assert.ok(abandonedHandlers >= 0 && abandonedHandlers <= stats.durable_objects.abandoned_events,
    `cancelled ${stats.tasks.cancelled}: ${deliberateLeaks} leaked on purpose, ${stats.durable_objects.abandoned_events} object events abandoned`);
  assert.equal(stats.durable_objects.events, stats.durable_objects.sessions_ended);
  assert.equal(stats.durable_objects.leaked_tasks, 0);
  assert.equal(stats.leaked_tasks, deliberateLeaks);
  assert.equal(stats.wait_until.cancelled, 0);
  assert.equal(stats.wait_until.failed, 0);
  assert.equal(stats.wait_until.completed, stats.wait_until.registered);
  assert.ok(stats.wait_until.registered >= 502, `only ${stats.wait_until.registered} wait_until jobs`);
  assert.equal(stats.sessions_ended, stats.requests, "a request's session never ended");
  assert.equal(stats.queued, 0);
  assert.equal(stats.pending_timers, 0);
  assert.deepEqual(stats.ingest_failures, []);
});

let failed = 0;
for (const { name, body } of tests) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name} (${Date.now() - started} ms)\n     ${error.stack ?? error}`);
  }
}
console.log(`${tests.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

// The Worker under faults (issues 10 and 19), against real workerd (`wrangler dev`).
// Run by scripts/test.d/70-worker-faults.sh, which starts the server on a fresh KV and stops it:
//   WORKER_URL=http://127.0.0.1:PORT node worker/tests/faults.mjs
//
// 1. Turns on KV faults (POST /debug/faults: a share of gets and puts fail, a share stall, some
//    past the handler's 5 s store time-out, half of those after the write landed) and starts
//    recording the ids accepted for this run's event type (POST /debug/accepted).
// 2. FAULT_CONNECTIONS clients (64) post valid events of that type for FAULT_SECONDS (60),
//    each over its own keep-alive connection. A share of the requests (FAULT_ABORT_SHARE) is
//    cut off by its client: half while the body is still being sent, half after the whole
//    request went out but before the answer came (after a random delay up to 1.5 times the
//    measured latency, so some are accepted and some are not). Two more clients read the
//    counter while the load runs: one every 250 ms, one every 100 ms cutting each read off
//    after 0-300 ms (a read stalled by a fault is cut off while its handler waits). One more
//    client resets the type's counter object every FAULT_RESET_MS (700 ms; 0: never) with the
//    dev route POST /debug/counter/reset: the object fails a blockConcurrencyWhile, which workerd
//    answers by resetting it, so every event in flight on it fails (increments that may have
//    been applied, reads), and the Worker retries them.
// 3. Waits (bounded) until the Worker settles: no wait_until work, no counter increment
//    pending, no open session. Turns faults off, then reads what the Worker accepted, what it
//    stored, the counter object's record (GET /debug/counter: its count and every event it
//    counted, with the count each made) and /stats, and checks every property below. Prints
//    the numbers; exits 1 if any property fails.
//
// Properties (A = ids the Worker accepted for the run's type, R = ids answered 202 to a client,
// F = ids named in /stats' ingest_failures, D = those of F that "may not be counted",
// C = ids the counter object recorded as counted):
// - no 5xx on POST /events (it answers 202 before touching KV or the counter, so faults cannot
//   cause one); no answer but 202; no client error on a request that was not cut off;
// - a 5xx on the counter reads happens only when every read attempt met an object reset (its
//   body says so), and the counter never goes down;
// - R ⊆ A, no id accepted twice, and every id of A \ R belongs to a request cut off after it
//   was sent (|A \ R| <= such cut-offs); all ids come from one isolate;
// - F ⊆ A and no event is named twice;
// - every event of A \ F has its summary stored, and only events of A have one;
// - the counter, by the object's own record: count == |C| and every count 1..|C| was made by
//   exactly one event (none counted twice); C ⊆ A; A \ F ⊆ C (none lost); no event of F \ D in C
//   (an event named "not counted" is not); GET /counts answers the same count;
// - /stats afterwards: no open session, sessions_ended == requests, wait_until registered ==
//   |A| and all completed (none pending, cancelled or failed), no counter increment pending,
//   no leaked task, no running or panicked task, nothing queued, no pending timer; every
//   counter object event's session ended (those in flight at a reset ended by the object's
//   next instance), none leaked a task;
// - after the load, a cross-request wake still works: three GET /debug/handoff waits, each
//   handed its value by another request, all answered 200;
// - with WRANGLER_LOG, the server's own request log agrees: as many 202s as events accepted,
//   no 5xx on POST /events, no 5xx on counter reads unless objects were reset, no error
//   thrown by the Worker (a client that hangs up mid-upload gets a 400 nobody reads) but the
//   resets asked for (the reset's own "Uncaught Error: reset on purpose", and the object's
//   next instance ending the sessions of the events it abandoned), and no "Promise will never
//   complete" (a promise handed to workerd that it gave up on).
import http from "node:http";
import { readFileSync } from "node:fs";

const BASE = process.env.WORKER_URL;
const WRANGLER_LOG = process.env.WRANGLER_LOG; // optional: the server's own view is checked too
if (!BASE) throw new Error("WORKER_URL is not set");
const url = new URL(BASE);
const env = (name, fallback) => (process.env[name] === undefined || process.env[name] === "" ? fallback : Number(process.env[name]));
const SECONDS = env("FAULT_SECONDS", 60);
const CONNECTIONS = env("FAULT_CONNECTIONS", 64);
const ABORT_SHARE = env("FAULT_ABORT_SHARE", 0.2);
const SEED = env("FAULT_SEED", Math.floor(Math.random() * 2 ** 31));
const SETTLE_SECONDS = env("FAULT_SETTLE_SECONDS", 60);
const CUT_READS = env("FAULT_CUT_READS", 1); // 0: no impatient reader
const RESET_MS = env("FAULT_RESET_MS", 700); // 0: the counter object is never reset
const PLAN = {
  seed: SEED,
  get_failure: env("FAULT_GET_FAILURE", 0.05),
  put_failure: env("FAULT_PUT_FAILURE", 0.02),
  stall: env("FAULT_STALL", 0.05),
  stall_min_ms: env("FAULT_STALL_MIN_MS", 50),
  stall_max_ms: env("FAULT_STALL_MAX_MS", 7000),
  stall_after: env("FAULT_STALL_AFTER", 0.5),
};
const REQUEST_TIMEOUT_MS = 30_000;
const TYPE = `faults-${Date.now().toString(36)}-${SEED.toString(36)}`.slice(0, 32);

/** mulberry32: the driver's own choices, seeded from FAULT_SEED. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One HTTP exchange. `cut` (optional) = { stage: "mid-body" | "awaiting-response", afterMs }. */
function exchange(method, path, { body, agent, cut } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const headers = {};
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    }
    const request = http.request({ host: url.hostname, port: url.port, path, method, headers, agent });
    let done = false;
    let responded = false;
    let cutting = false;
    const timers = [];
    const finish = (result) => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      resolve({ ...result, ms: performance.now() - started });
    };
    timers.push(setTimeout(() => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS));
    request.on("response", (response) => {
      responded = true;
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => finish({ kind: "answer", status: response.statusCode, text: Buffer.concat(chunks).toString() }));
      response.on("error", (error) => finish({ kind: "error", error: `${error.message} (reading the answer)` }));
    });
    request.on("error", (error) => finish(cutting ? { kind: "cut", stage: cut.stage } : { kind: "error", error: error.message }));
    const cutNow = () => {
      if (done || responded) return; // the answer came first: not cut
      cutting = true;
      request.destroy();
      finish({ kind: "cut", stage: cut.stage });
    };
    if (cut?.stage === "mid-body") {
      request.write(body.slice(0, Math.floor(body.length / 2)));
      timers.push(setTimeout(cutNow, cut.afterMs));
    } else {
      request.end(body);
      if (cut) timers.push(setTimeout(cutNow, cut.afterMs));
    }
  });
}

async function getJson(path, method = "GET", body) {
  const answer = await exchange(method, path, { body });
  if (answer.kind !== "answer") throw new Error(`${method} ${path}: ${answer.error}`);
  let json;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw new Error(`${method} ${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
  }
  if (answer.status !== 200) throw new Error(`${method} ${path}: ${answer.status} ${answer.text.slice(0, 300)}`);
  return json;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
const violations = [];
const check = (ok, message) => {
  if (!ok) violations.push(message);
};

// ---- 1. faults on, acceptance recorded ----
const started = Date.now();
console.log(`type ${TYPE}, seed ${SEED} (FAULT_SEED=${SEED} replays the choices), ${CONNECTIONS} connections for ${SECONDS} s, cut-off share ${ABORT_SHARE}`);
console.log(`fault plan ${JSON.stringify(PLAN)}`);
const planSet = await getJson("/debug/faults", "POST", JSON.stringify(PLAN));
const wanted = PLAN.get_failure > 0 || PLAN.put_failure > 0 || PLAN.stall > 0;
if (planSet.active !== wanted) throw new Error(`the fault plan was not taken as asked: ${JSON.stringify(planSet)}`);
await getJson(`/debug/accepted?type=${TYPE}`, "POST", "");

// ---- 2. load ----
const acceptedByClient = new Set(); // R
const postStatuses = new Map();
const postErrors = new Map();
const cuts = new Map(); // stage -> count
const fiveHundreds = [];
let posts = 0;
const latencies = [];
let medianMs = 20;
const endAt = Date.now() + SECONDS * 1000;

async function client(index) {
  const next = random(SEED * 1000 + index + 1);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let n = 0; Date.now() < endAt; n++) {
    const values = Array.from({ length: 1 + Math.floor(next() * 4) }, () => Math.floor(next() * 100));
    const body = JSON.stringify({ type: TYPE, user: `c${index}-${n}`, values });
    let cut;
    if (next() < ABORT_SHARE) {
      cut = next() < 0.5
        ? { stage: "mid-body", afterMs: Math.floor(next() * 20) }
        : { stage: "awaiting-response", afterMs: 0.5 * (3 * medianMs) ** next() };
    }
    posts += 1;
    const result = await exchange("POST", "/events", { body, agent, cut });
    if (result.kind === "cut") {
      count(cuts, result.stage);
      continue;
    }
    if (result.kind === "error") {
      count(postErrors, result.error);
      continue;
    }
    count(postStatuses, result.status);
    if (result.status >= 500) fiveHundreds.push(`POST ${result.status} ${result.text.slice(0, 200)}`);
    if (result.status !== 202) continue;
    latencies.push(result.ms);
    if (latencies.length >= 200) {
      latencies.sort((a, b) => a - b);
      medianMs = latencies[100];
      latencies.length = 0;
    }
    const id = JSON.parse(result.text).id;
    check(!acceptedByClient.has(id), `id ${id} was answered twice`);
    acceptedByClient.add(id);
  }
  agent.destroy();
}

const reads = { ok: 0, injected: 0, reset: 0, cut: 0, other: new Map() };
/** Reads the counter every 250 ms; with `impatient`, every 100 ms and cuts each read off after
 * a random 0-300 ms (a read stalled by a fault is then cut off while its handler waits). */
async function reader(impatient) {
  const next = random(SEED * 1000 + (impatient ? 999 : 998));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // The counter never goes down. Checked per reader: a read's value is the counter when its KV
  // get ran, and one reader's reads run one after the other (two readers' reads overlap, and a
  // get whose answer was stalled returns an older value than a later, faster one).
  let last = 0;
  while (Date.now() < endAt) {
    // A patient read still ends with the load (a stalled one is cut off 1 s after it).
    const afterMs = impatient ? next() * 300 : Math.max(0, endAt - Date.now()) + 1000;
    const cut = { stage: "read", afterMs };
    const result = await exchange("GET", `/counts/${TYPE}`, { agent, cut });
    if (result.kind === "cut") {
      reads.cut += 1;
    } else if (result.kind !== "answer") {
      count(reads.other, result.error);
    } else if (result.status === 200) {
      reads.ok += 1;
      const value = JSON.parse(result.text).count;
      check(value >= last, `the counter went down from ${last} to ${value}`);
      last = value;
    } else if (result.status >= 500 && result.text.includes("injected failure")) {
      reads.injected += 1;
    } else if (RESET_MS > 0 && result.status >= 500 && result.text.includes("reads failed") &&
      result.text.includes("reset on purpose")) {
      reads.reset += 1;
    } else {
      count(reads.other, result.status);
      if (result.status >= 500) fiveHundreds.push(`GET /counts ${result.status} ${result.text.slice(0, 200)}`);
    }
    await sleep(impatient ? 100 : 250);
  }
  agent.destroy();
}

const resets = { asked: 0, done: 0, answers: new Map() };
/** Resets the counter object every RESET_MS while the load runs. */
async function resetter() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (RESET_MS > 0 && Date.now() < endAt) {
    await sleep(RESET_MS);
    resets.asked += 1;
    const result = await exchange("POST", `/debug/counter/reset?type=${TYPE}`, { agent, body: "" });
    if (result.kind === "answer" && result.status === 200 && JSON.parse(result.text).reset === true) resets.done += 1;
    else count(resets.answers, result.kind === "answer" ? `${result.status} ${result.text.slice(0, 120)}` : result.error);
  }
  agent.destroy();
}

const progress = setInterval(() => {
  const ok = postStatuses.get(202) ?? 0;
  console.log(`  ${Math.round((Date.now() - started) / 1000)} s: ${posts} posted, ${ok} answered 202, ${[...cuts.values()].reduce((a, b) => a + b, 0)} cut off, median ${medianMs.toFixed(1)} ms`);
}, 15_000);
await Promise.all([...Array.from({ length: CONNECTIONS }, (_, index) => client(index)), reader(false), ...(CUT_READS ? [reader(true)] : []), resetter()]);
clearInterval(progress);
const loadSeconds = (Date.now() - started) / 1000;

// ---- 3. settle, then verify ----
const settleStarted = Date.now();
let stats;
for (;;) {
  // An event to the counter object builds its next instance if the last reset left none: that
  // instance ends the sessions of the events the reset abandoned.
  await exchange("GET", `/counts/${TYPE}`);
  stats = await getJson("/stats");
  if (stats.wait_until.pending === 0 && stats.counter_increments_pending === 0 && stats.sessions.length === 0) break;
  if (Date.now() - settleStarted > SETTLE_SECONDS * 1000) {
    violations.push(`not settled within ${SETTLE_SECONDS} s: wait_until pending ${stats.wait_until.pending}, ` +
      `counter increments pending ${stats.counter_increments_pending}, open sessions ${JSON.stringify(stats.sessions.slice(0, 10))}`);
    break;
  }
  await sleep(500);
}
const settleSeconds = (Date.now() - settleStarted) / 1000;
const injected = (await getJson("/debug/faults", "DELETE")).counts;

const accepted = (await getJson(`/debug/accepted?type=${TYPE}`)).ids; // A
const acceptedSet = new Set(accepted);
const stored = new Set((await getJson("/debug/stored?ids=true")).ids);
const storedCount = (await getJson(`/counts/${TYPE}`)).count;
const audit = await getJson(`/debug/counter?type=${TYPE}`); // the object's record
const counted = new Map(audit.applied); // C: id -> the count it made
// After the load, a cross-request wake must still reach the woken request in its own I/O
// context: one request waits (GET /debug/handoff?key=K), another hands it a value. (Under
// sustained load workerd stopped deferring such wakes into the woken request's context, and
// its answer failed with a 500 "Cannot perform I/O on behalf of a different request".)
const handoffs = [];
for (let n = 0; n < 3; n++) {
  const key = `${TYPE}-handoff-${n}`;
  const waiting = exchange("GET", `/debug/handoff?key=${key}`);
  let handed;
  for (let attempt = 0; attempt < 100; attempt++) {
    handed = await exchange("GET", `/debug/handoff?key=${key}&value=v${n}`);
    if (handed.kind !== "answer" || handed.status !== 409) break;
    await sleep(20);
  }
  const received = await waiting;
  const ok = handed.status === 200 && received.kind === "answer" && received.status === 200 && JSON.parse(received.text).value === `v${n}`;
  handoffs.push(ok ? "ok" : `${received.status ?? received.error} ${received.text?.slice(0, 160)}`);
}
check(handoffs.every((h) => h === "ok"), `a cross-request wake after the load failed: ${handoffs.join(" | ")}`);
// The reads above were requests too: wait for their sessions to end.
const finalDeadline = Date.now() + 10_000;
for (;;) {
  stats = await getJson("/stats");
  if (stats.sessions.length === 0 || Date.now() > finalDeadline) break;
  await sleep(100);
}

// Failures: "evt-…: why".
const failures = new Map();
const failureKinds = new Map();
for (const line of stats.ingest_failures) {
  const split = line.indexOf(": ");
  const id = line.slice(0, split);
  const why = line.slice(split + 2);
  check(!failures.has(id), `event ${id} is named twice in ingest_failures: ${failures.get(id)} / ${why}`);
  check(acceptedSet.has(id), `ingest_failures names ${id}, which was never accepted: ${line}`);
  failures.set(id, why);
  const kind = why.startsWith("may not be counted") ? "may not be counted"
    : why.includes("injected failure") ? "injected failure"
    : why.includes("did not answer within") ? "store time-out"
    : why.startsWith("not counted") ? "not counted (given up)"
    : why.startsWith("not stored or counted") ? "cut off before stored"
    : "other";
  count(failureKinds, kind);
}
const doubtful = [...failures.values()].filter((why) => why.startsWith("may not be counted")).length;

// Acceptance.
check(acceptedSet.size === accepted.length, `the Worker recorded an id twice (${accepted.length} ids, ${acceptedSet.size} distinct)`);
const unknownToWorker = [...acceptedByClient].filter((id) => !acceptedSet.has(id));
check(unknownToWorker.length === 0, `${unknownToWorker.length} ids answered 202 are not recorded as accepted, e.g. ${unknownToWorker.slice(0, 3)}`);
const acceptedUnseen = accepted.filter((id) => !acceptedByClient.has(id)).length;
const cutAfterSending = cuts.get("awaiting-response") ?? 0;
check(acceptedUnseen <= cutAfterSending,
  `${acceptedUnseen} events were accepted without their client seeing the 202, but only ${cutAfterSending} requests were cut off after they were sent`);
const isolates = new Set(accepted.map((id) => id.split("-")[1]));
check(isolates.size <= 1, `events came from ${isolates.size} isolates (${[...isolates]}); the checks assume one`);

// Summaries.
const notFailed = accepted.filter((id) => !failures.has(id));
const missing = notFailed.filter((id) => !stored.has(id));
check(missing.length === 0, `${missing.length} events neither stored nor named in ingest_failures, e.g. ${missing.slice(0, 3)}`);
const phantom = [...stored].filter((id) => !acceptedSet.has(id));
check(phantom.length === 0, `${phantom.length} summaries stored for events never accepted, e.g. ${phantom.slice(0, 3)}`);

// The counter, by the object's own record.
const made = [...counted.values()].sort((a, b) => a - b);
const doubled = audit.count - counted.size;
check(audit.count === counted.size && made.every((value, index) => value === index + 1),
  `counted twice: the object's count is ${audit.count}, ${counted.size} events recorded, counts made ${made.length > 20 ? `${made.slice(0, 20)}…` : made}`);
check(storedCount === audit.count, `GET /counts answered ${storedCount}, the object records ${audit.count}`);
const phantomCounted = [...counted.keys()].filter((id) => !acceptedSet.has(id));
check(phantomCounted.length === 0, `${phantomCounted.length} events counted that were never accepted, e.g. ${phantomCounted.slice(0, 3)}`);
const lost = notFailed.filter((id) => !counted.has(id));
check(lost.length === 0, `${lost.length} events accepted, named in no failure and not counted (lost), e.g. ${lost.slice(0, 3)}`);
const countedThoughNamed = [...failures].filter(([id, why]) => counted.has(id) && !why.startsWith("may not be counted")).map(([id]) => id);
check(countedThoughNamed.length === 0, `${countedThoughNamed.length} events counted although named as not counted, e.g. ${countedThoughNamed.slice(0, 3)}`);
const doubtfulCounted = [...failures].filter(([id, why]) => counted.has(id) && why.startsWith("may not be counted")).length;
const expectedLow = notFailed.length;
const expectedHigh = notFailed.length + doubtful;

// HTTP.
const postFiveHundreds = [...postStatuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
check(fiveHundreds.length === 0, `${fiveHundreds.length} 5xx not injected: ${fiveHundreds.slice(0, 3).join(" | ")}`);
const otherStatuses = [...postStatuses].filter(([status]) => status !== 202);
check(otherStatuses.length === 0, `POST answers other than 202: ${JSON.stringify(otherStatuses)}`);
check(postErrors.size === 0, `client errors on requests not cut off: ${JSON.stringify([...postErrors])}`);
check(reads.other.size === 0, `counter reads that failed other than by an object reset: ${JSON.stringify([...reads.other])}`);
check(resets.answers.size === 0, `resets that did not reset the object: ${JSON.stringify([...resets.answers])}`);

// /stats.
const wu = stats.wait_until;
check(stats.sessions.length === 0, `${stats.sessions.length} sessions still open: ${JSON.stringify(stats.sessions.slice(0, 5))}`);
check(stats.sessions_ended === stats.requests, `sessions_ended ${stats.sessions_ended} != requests ${stats.requests}`);
check(wu.registered === accepted.length, `wait_until registered ${wu.registered} != ${accepted.length} events accepted`);
check(wu.pending === 0 && wu.cancelled === 0 && wu.failed === 0 && wu.completed === wu.registered,
  `wait_until not all completed: ${JSON.stringify(wu)}`);
check(stats.counter_increments_pending === 0, `counter_increments_pending ${stats.counter_increments_pending}`);
check(stats.leaked_tasks === 0, `leaked_tasks ${stats.leaked_tasks}`);
check(stats.tasks.running === 0 && stats.tasks.panicked === 0, `tasks: ${JSON.stringify(stats.tasks)}`);
check(stats.tasks.spawned === stats.tasks.completed + stats.tasks.cancelled, `tasks do not add up: ${JSON.stringify(stats.tasks)}`);
check(stats.queued === 0 && stats.pending_timers === 0, `queued ${stats.queued}, pending timers ${stats.pending_timers}`);
const objects = stats.durable_objects;
check(objects.events === objects.sessions_ended, `counter object events ${objects.events}, sessions ended ${objects.sessions_ended}`);
check(objects.leaked_tasks === 0, `counter object events leaked ${objects.leaked_tasks} tasks`);

// The server's view (wrangler's request log): no 5xx on POST /events, none on the counter
// reads beyond the injected get failures, and no error thrown by the Worker. The one error
// line allowed is wrangler's dev proxy noting that a client went away while it forwarded the
// request ("Network connection lost"): that is wrangler's, not the Worker's. So is workerd's
// note that the tail session the dev server streams a request's logs through lost its
// destination when the request was cancelled (`workerd/io/trace-stream.c++`: "The destination
// execution context for this tail session was canceled while the call was still running"):
// seen under the faster loads of this suite (2 runs of 4 on 2026-12-07, at ~320 req/s, none at
// ~200), also in runs of other branches, never with a Worker stack; counted and printed.
const server = { statuses: new Map(), errors: new Map(), proxyLost: 0, tailLost: 0, resetLines: 0, neverComplete: 0 };
if (WRANGLER_LOG) {
  const log = readFileSync(WRANGLER_LOG, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  for (const line of log.split("\n")) {
    if (line.includes("Promise will never complete")) server.neverComplete += 1;
    const request = line.match(/\[wrangler:info\] (\w+) (\/[^/ ?]*(?:\/[^/ ?]*)?)\S* (\d{3})/);
    if (request) {
      const route = request[2].startsWith("/counts/") ? "/counts" : request[2];
      count(server.statuses, `${request[1]} ${route} ${request[3]}`);
    } else if (line.includes("[ERROR]")) {
      if (line.includes("Error inside ProxyWorker") && line.includes("Network connection lost")) server.proxyLost += 1;
      else if (line.includes("exception = workerd/io/trace-stream.c++") &&
        line.includes("this tail session was canceled while the call was still running")) server.tailLost += 1;
      // The resets asked for: the reset's own exception, and the object's next instance ending
      // the sessions of the events the reset abandoned (their handler tasks cancelled).
      else if (RESET_MS > 0 && (line.includes("Uncaught Error: reset on purpose") || line.includes("was reset by the platform with") ||
        /ended with task#\d+ \(session#\d+\) foreground spawned at src\/cloud\/cloudflare_durable_object\.rs/.test(line))) server.resetLines += 1;
      else count(server.errors, line.replace(/^.*\[ERROR\]\s*/, "").replace(/\d+/g, "N").slice(0, 160));
    }
  }
  const serverCount = (prefix, predicate) => [...server.statuses]
    .filter(([key]) => key.startsWith(prefix) && predicate(Number(key.split(" ")[2])))
    .reduce((sum, [, n]) => sum + n, 0);
  const serverPost5xx = serverCount("POST /events ", (status) => status >= 500);
  check(serverPost5xx === 0, `the server answered ${serverPost5xx} POST /events with a 5xx`);
  const serverRead5xx = serverCount("GET /counts ", (status) => status >= 500);
  check(serverRead5xx === 0 || resets.done > 0, `the server answered ${serverRead5xx} counter reads with a 5xx, and no object was reset`);
  check(server.neverComplete === 0, `workerd gave up on ${server.neverComplete} promises ("Promise will never complete")`);
  check(server.errors.size === 0, `errors thrown by the Worker: ${JSON.stringify([...server.errors].slice(0, 3))}`);
  server.post202 = serverCount("POST /events ", (status) => status === 202);
  check(server.post202 === accepted.length, `the server answered ${server.post202} POST /events with 202, the Worker recorded ${accepted.length} accepted`);
  server.read5xx = serverRead5xx;
}

// ---- report ----
const cutTotal = [...cuts.values()].reduce((a, b) => a + b, 0);
const row = (label, value) => console.log(`  ${label.padEnd(34)} ${value}`);
console.log(`\nWorker under faults: ${CONNECTIONS} connections, ${loadSeconds.toFixed(1)} s of load, settled ${settleSeconds.toFixed(1)} s later`);
row("requests posted", `${posts} (${(posts / loadSeconds).toFixed(0)}/s)`);
row("answered 202", `${postStatuses.get(202) ?? 0}`);
row("cut off by their client", `${cutTotal} (mid-body ${cuts.get("mid-body") ?? 0}, awaiting the answer ${cutAfterSending})`);
row("other answers / client errors", `${JSON.stringify(otherStatuses)} / ${JSON.stringify([...postErrors])}`);
row("5xx (POST / not injected)", `${postFiveHundreds} / ${fiveHundreds.length}`);
row("counter reads during load", `${reads.ok} ok, ${reads.reset} 5xx after 3 attempts met resets, ${reads.cut} cut off, ${reads.other.size ? JSON.stringify([...reads.other]) : "no other"}`);
row("counter object resets", `${resets.done} of ${resets.asked} asked (every ${RESET_MS} ms)`);
row("events accepted (A)", `${accepted.length}, of which ${acceptedUnseen} cut off before the client saw the 202`);
row("injected faults", `${injected.failed_gets}/${injected.gets} gets and ${injected.failed_puts}/${injected.puts} puts failed; ` +
  `${injected.stalls_before} stalls before, ${injected.stalls_after} after (lost answers) the call, ${injected.stalls_over_timeout} past the 5 s time-out`);
row("failures recorded (F)", `${failures.size}: ${JSON.stringify(Object.fromEntries(failureKinds))}`);
row("summaries stored", `${stored.size} (every one of the ${notFailed.length} not failed)`);
row("stored count / expected", `${storedCount} / ${expectedLow === expectedHigh ? expectedLow : `${expectedLow}..${expectedHigh}`}`);
row("counted (object's record)", `${counted.size}: lost ${lost.length}, counted twice ${doubled}, ` +
  `of the ${doubtful} "may not be counted" counted after all ${doubtfulCounted}`);
row("increments", `${JSON.stringify(stats.counter)} (attempts failed by resets or time-outs; a retry that found ` +
  `its event counted: the failed attempt had taken effect)`);
row("counter object events", JSON.stringify(objects));
row("open sessions", `${stats.sessions.length} (requests ${stats.requests}, sessions ended ${stats.sessions_ended})`);
row("wait_until", JSON.stringify(wu));
row("tasks", `${JSON.stringify(stats.tasks)}, leaked ${stats.leaked_tasks}`);
row("cross-request wakes", `${stats.routed_wakes} routed, ${stats.misplaced_reactions ?? "?"} handed over by the session's tick ` +
  `(workerd ran the anchor's reaction in another context); after the load: ${handoffs.filter((h) => h === "ok").length}/3 handoffs ok`);
if (WRANGLER_LOG) {
  row("server log", `POST /events: ${server.post202} x 202; counter reads: ${server.read5xx} x 5xx; ` +
    `Worker errors ${server.errors.size ? JSON.stringify([...server.errors]) : "none"}; "Promise will never complete" ${server.neverComplete}; ` +
    `proxy lost a client ${server.proxyLost} times; workerd's tail stream lost a cancelled request ${server.tailLost} times; ${server.resetLines} lines of the resets asked for`);
}
row("elapsed", `${((Date.now() - started) / 1000).toFixed(1)} s`);
if (violations.length > 0) {
  console.log(`\nFAIL: ${violations.length} properties violated (seed ${SEED}):`);
  for (const violation of violations.slice(0, 30)) console.log(`  - ${violation}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
console.log("\nall properties hold\n1 passed, 0 failed");

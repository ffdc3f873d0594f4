// One bad request never takes the Worker down (issue 18), on real workerd under load, through
// the dev routes of worker/src/dev/chaos.rs. Run by scripts/test.d/60-worker-e2e.sh:
//   WORKER_URL=… WRANGLER_LOG=… node worker/tests/panics.mjs          # the unwind build
//   PANIC_MODE=abort WORKER_URL=… WRANGLER_LOG=… node worker/tests/panics.mjs   # the abort build
//
// unwind (the example app's default build):
//   1. the same answers as the simulation: one GET /debug/panic and one ?panic=true, normalized,
//      equal worker/tests/panic_answers.json (written by the native test worker/tests/chaos.rs);
//      a 1 s spin ends by itself; bad queries get their 400;
//   2. PANIC_CONNECTIONS (64) connections for PANIC_SECONDS (15 s): 2% of the requests panic
//      (GET /debug/panic?panic=true), the rest are GET /debug/panic and GET /fanout. Every
//      panicking request gets its 500 naming the panic, every other one its 200 (0 unexpected
//      5xx, 0 client errors), and the isolate's book (GET /debug/isolate) counted every request
//      on the same wasm instance, every wait_until job (the panicking requests' too) ran, and no
//      instance was reset;
//   3. one request wakes itself forever (GET /debug/spin?seconds=60) while the same load runs
//      SPIN_LOAD_SECONDS (8 s) without panics: every other request is answered; their p99 is
//      reported, next to phase 2's. Then GET /debug/spin?stop=true ends it (200, "stopped");
//   4. the server log: 0 "Cannot perform I/O on behalf of a different request", 0 "Promise will
//      never complete", 5xx only on the panicking requests, no uncaught error.
// abort (PANIC=abort scripts/build-worker.sh): requests in flight (spinning) and then a panic
// kill the wasm instance; the next requests succeed on a new instance, which reports the reset
// (GET /debug/isolate) and logs it with the number of requests in flight that failed.
import http from "node:http";
import { readFileSync } from "node:fs";

const BASE = process.env.WORKER_URL;
if (!BASE) throw new Error("WORKER_URL is not set");
const WRANGLER_LOG = process.env.WRANGLER_LOG;
const MODE = process.env.PANIC_MODE || "unwind";
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const CONNECTIONS = env("PANIC_CONNECTIONS", 64);
const SECONDS = env("PANIC_SECONDS", 15);
const SPIN_LOAD_SECONDS = env("SPIN_LOAD_SECONDS", 8);
const PANIC_SHARE = 0.02;
const SEED = env("PANIC_SEED", Math.floor(Math.random() * 2 ** 31));
const PANIC_MESSAGE = "panic on demand (GET /debug/panic?panic=true)";
const REQUEST_TIMEOUT_MS = 30_000;
const url = new URL(BASE);

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

/** One GET: { status, text, json, ms } or { error, ms }. */
function get(path, agent) {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.request({ host: url.hostname, port: url.port, path, method: "GET", agent });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
    request.on("response", (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: response.statusCode, text, json, ms: performance.now() - started });
      });
      response.on("error", (error) => { clearTimeout(timer); resolve({ error: error.message, ms: performance.now() - started }); });
    });
    request.on("error", (error) => { clearTimeout(timer); resolve({ error: error.message, ms: performance.now() - started }); });
    request.end();
  });
}

async function getJson(path) {
  const answer = await get(path);
  if (answer.status !== 200 || !answer.json) throw new Error(`GET ${path}: ${answer.status ?? answer.error} ${answer.text?.slice(0, 300)}`);
  return answer.json;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const violations = [];
const check = (ok, message) => { if (!ok) violations.push(message); };
const row = (label, value) => console.log(`  ${label.padEnd(30)} ${value}`);
const percentile = (values, p) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** As `normalize` in worker/tests/chaos.rs. */
function normalize(status, body) {
  body = { ...body };
  if (typeof body.request === "number" && typeof body.value === "number") {
    const value = body.value;
    body.value = value === 3 * body.request + 1 ? "3N+1" : value;
    body.request = "N";
  }
  if (typeof body.session === "string") body.session = body.session.replace(/session#\d+/g, "session#N");
  if (typeof body.error === "string") {
    let error = body.error.replace(/task#\d+/g, "task#N").replace(/session#\d+/g, "session#N");
    const layer = " panicked: task#N";
    for (let at = error.indexOf(layer); at >= 0; at = error.indexOf(layer)) error = error.slice(at + " panicked: ".length);
    error = error.replace(/chaos\.rs:[\d:]+/, "chaos.rs:L:C");
    body.error = error;
  }
  return { status, body };
}

/** Sorts an object's keys (deep), to compare JSON regardless of key order. */
const canonical = (value) => Array.isArray(value) ? value.map(canonical)
  : value && typeof value === "object" ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])])) : value;

/** Load: CONNECTIONS clients for `seconds`, each a keep-alive connection. `panicShare` of the
 * requests panic; the others are split between GET /debug/panic and GET /fanout. */
async function load(seconds, panicShare, tag) {
  const stats = { sent: 0, panics: 0, panicRoute: 0, fanout: 0, ok: 0, panicAnswers: 0, unexpected: [], errors: [], latencies: [] };
  const endAt = Date.now() + seconds * 1000;
  const client = async (index) => {
    const next = random(SEED * 1000 + index + (tag === "spin" ? 500 : 1));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (Date.now() < endAt) {
      const draw = next();
      const panic = draw < panicShare;
      const path = panic ? "/debug/panic?panic=true" : draw < 0.5 + panicShare / 2 ? "/debug/panic" : "/fanout";
      stats.sent += 1;
      if (panic) stats.panics += 1;
      if (path.startsWith("/debug/panic")) stats.panicRoute += 1; else stats.fanout += 1;
      const answer = await get(path, agent);
      if (answer.error) { stats.errors.push(`${path}: ${answer.error}`); continue; }
      if (panic) {
        const body = answer.json ?? {};
        const named = answer.status === 500 && body.status === "failed" && body.cause === "panicked" &&
          typeof body.error === "string" && body.error.includes(PANIC_MESSAGE) && body.error.includes("src/dev/chaos.rs:");
        if (named) stats.panicAnswers += 1;
        else stats.unexpected.push(`${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
        continue;
      }
      const body = answer.json ?? {};
      const right = answer.status === 200 && (path === "/fanout" ? typeof body.sum === "string" || typeof body.sum === "number"
        : body.status === "ok" && body.value === 3 * body.request + 1);
      if (right) { stats.ok += 1; stats.latencies.push(answer.ms); }
      else stats.unexpected.push(`${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, index) => client(index)));
  return stats;
}

/** How much of the server's log was written before this suite started (earlier suites on the
 * same server wrote it): only what follows is checked. */
const LOG_START = WRANGLER_LOG ? readFileSync(WRANGLER_LOG).length : 0;

/** The server's log since this suite started: counts of the lines that must not appear, and the
 * 5xx it answered by route. */
function serverLog() {
  const log = readFileSync(WRANGLER_LOG).subarray(LOG_START).toString("utf8").replace(/\x1b\[[0-9;]*m/g, "");
  const lines = log.split("\n");
  const fiveHundreds = new Map();
  for (const line of lines) {
    const request = line.match(/\[wrangler:info\] (\w+) (\/[^ ?]*)\S* (\d{3})/);
    if (request && request[3] >= "500") {
      const key = `${request[1]} ${request[2]}`;
      fiveHundreds.set(key, (fiveHundreds.get(key) ?? 0) + 1);
    }
  }
  const countOf = (text) => lines.filter((line) => line.includes(text)).length;
  return {
    lines,
    fiveHundreds,
    crossRequestIo: countOf("Cannot perform I/O on behalf of a different request"),
    neverComplete: countOf("Promise will never complete"),
    uncaught: lines.filter((line) => line.includes("Uncaught") && !line.includes("panic on demand")),
  };
}

async function settledBook(before, panicRouteRequests) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const book = await getJson("/debug/isolate");
    const done = book.panic_route.served - before.panic_route.served === panicRouteRequests &&
      book.panic_route.jobs_settled === book.panic_route.jobs_registered;
    if (done || Date.now() > deadline) return book;
    await sleep(100);
  }
}

async function unwind() {
  const started = Date.now();
  console.log(`unwind build: seed ${SEED} (PANIC_SEED=${SEED} replays the choices), ${CONNECTIONS} connections`);

  // 1. The same answers as the simulation.
  const expected = JSON.parse(readFileSync(new URL("./panic_answers.json", import.meta.url), "utf8"));
  const answers = [];
  for (const path of ["/debug/panic", "/debug/panic?panic=true"]) {
    const answer = await get(path);
    answers.push(normalize(answer.status, answer.json ?? answer.text));
  }
  const same = JSON.stringify(canonical(answers)) === JSON.stringify(canonical(expected));
  check(same, `workerd's answers ${JSON.stringify(answers)} differ from the simulation's (panic_answers.json) ${JSON.stringify(expected)}`);
  const rejected = await get("/debug/panic?panic=maybe");
  check(rejected.status === 400 && rejected.json?.field === "panic", `?panic=maybe: ${rejected.status} ${rejected.text}`);
  // A spin ends by itself once its time is up (the platform's clock moves while it spins).
  const short = await get("/debug/spin?seconds=1");
  check(short.status === 200 && short.json?.status === "timed_out" && short.json.elapsed_ms >= 1000 && short.json.polls > 0,
    `GET /debug/spin?seconds=1: ${short.status} ${short.text}`);
  for (const bad of ["seconds=0", "seconds=61", "seconds=x", "", "seconds=5&stop=true"]) {
    const answer = await get(`/debug/spin${bad ? `?${bad}` : ""}`);
    check(answer.status === 400, `/debug/spin?${bad}: ${answer.status} ${answer.text}`);
  }

  // 2. Load, 2% panicking.
  const before = await getJson("/debug/isolate");
  const loadStarted = Date.now();
  const panicLoad = await load(SECONDS, PANIC_SHARE, "panic");
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  const after = await settledBook(before, panicLoad.panicRoute);
  check(panicLoad.unexpected.length === 0, `${panicLoad.unexpected.length} unexpected answers: ${panicLoad.unexpected.slice(0, 3).join(" | ")}`);
  check(panicLoad.errors.length === 0, `${panicLoad.errors.length} client errors: ${panicLoad.errors.slice(0, 3).join(" | ")}`);
  check(panicLoad.panics > 0 && panicLoad.panicAnswers === panicLoad.panics, `${panicLoad.panicAnswers} of ${panicLoad.panics} panicking requests got their 500`);
  check(after.instance === before.instance, `the wasm instance changed: ${before.instance} -> ${after.instance}`);
  check(after.instance_resets === 0, `instance resets: ${after.instance_resets}`);
  check(after.panic_route.served - before.panic_route.served === panicLoad.panicRoute,
    `the isolate's book counted ${after.panic_route.served - before.panic_route.served} panic-route requests, the clients sent ${panicLoad.panicRoute}`);
  check(after.panic_route.jobs_settled === after.panic_route.jobs_registered, `wait_until jobs: ${JSON.stringify(after.panic_route)}`);
  check(after.handlers_panicked - before.handlers_panicked === panicLoad.panics,
    `handlers panicked ${after.handlers_panicked - before.handlers_panicked}, panics asked ${panicLoad.panics}`);
  const p = (stats, q) => percentile(stats.latencies, q).toFixed(1);

  // 3. One request wakes itself forever while the load runs.
  const spinning = get("/debug/spin?seconds=60");
  for (let n = 0; (await getJson("/debug/isolate")).spin_route.spinning < 1; n++) {
    if (n > 100) throw new Error("the spinning request never started");
    await sleep(50);
  }
  const spinLoad = await load(SPIN_LOAD_SECONDS, 0, "spin");
  const stillSpinning = (await getJson("/debug/isolate")).spin_route.spinning;
  const stop = await getJson("/debug/spin?stop=true");
  const spun = await spinning;
  check(stillSpinning === 1, `the request was not spinning through the load (spinning ${stillSpinning})`);
  check(stop.spinning === 1, `stop: ${JSON.stringify(stop)}`);
  check(spun.status === 200 && spun.json?.status === "stopped" && spun.json.polls > 0, `the spinning request: ${spun.status} ${spun.text}`);
  check(spinLoad.unexpected.length === 0 && spinLoad.errors.length === 0,
    `while one request spun: ${spinLoad.unexpected.length} unexpected answers, ${spinLoad.errors.length} client errors: ${[...spinLoad.unexpected, ...spinLoad.errors].slice(0, 3).join(" | ")}`);
  check(spinLoad.ok > 0, "no request was answered while one spun");
  const final = await settledBook(after, spinLoad.panicRoute);

  // 4. The server's log.
  let server;
  if (WRANGLER_LOG) {
    server = serverLog();
    check(server.crossRequestIo === 0, `${server.crossRequestIo} "Cannot perform I/O on behalf of a different request" in the server log`);
    check(server.neverComplete === 0, `${server.neverComplete} "Promise will never complete" in the server log`);
    const other5xx = [...server.fiveHundreds].filter(([key]) => key !== "GET /debug/panic");
    check(other5xx.length === 0, `5xx on other routes: ${JSON.stringify(other5xx)}`);
    const panic5xx = server.fiveHundreds.get("GET /debug/panic") ?? 0;
    // The load's panics, and the one of step 1.
    check(panic5xx === panicLoad.panics + 1, `the server answered ${panic5xx} GET /debug/panic with a 5xx, ${panicLoad.panics + 1} panics were asked`);
    check(server.uncaught.length === 0, `uncaught errors: ${server.uncaught.slice(0, 3).join(" | ")}`);
  }

  console.log(`\nPanics under load (${CONNECTIONS} connections, ${loadSeconds.toFixed(1)} s), then one request spinning (${SPIN_LOAD_SECONDS} s)`);
  row("requests (panic phase)", `${panicLoad.sent} (${(panicLoad.sent / loadSeconds).toFixed(0)}/s): ${panicLoad.panicRoute} GET /debug/panic, ${panicLoad.fanout} GET /fanout`);
  row("panics asked / 500 with message", `${panicLoad.panics} (${((100 * panicLoad.panics) / panicLoad.sent).toFixed(1)}%) / ${panicLoad.panicAnswers}`);
  row("unexpected answers / errors", `${panicLoad.unexpected.length} / ${panicLoad.errors.length}`);
  row("p50 / p99 (answered 200)", `${p(panicLoad, 50)} / ${p(panicLoad, 99)} ms`);
  row("isolate book", `instance ${before.instance} -> ${final.instance}; served ${before.panic_route.served} -> ${final.panic_route.served}; ` +
    `jobs ${final.panic_route.jobs_settled}/${final.panic_route.jobs_registered} settled; handlers panicked ${final.handlers_panicked}; resets ${final.instance_resets}`);
  row("requests (spin phase)", `${spinLoad.sent}: ${spinLoad.ok} answered 200, ${spinLoad.unexpected.length} unexpected, ${spinLoad.errors.length} errors`);
  row("p50 / p99 while one spins", `${p(spinLoad, 50)} / ${p(spinLoad, 99)} ms (the spinner: ${spun.json?.polls} polls in ${spun.json?.elapsed_ms} ms, ${spun.json?.status})`);
  if (server) {
    row("server log", `5xx ${JSON.stringify([...server.fiveHundreds])}; cross-request I/O ${server.crossRequestIo}; ` +
      `"Promise will never complete" ${server.neverComplete}; uncaught ${server.uncaught.length}`);
  }
  row("elapsed", `${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function abort() {
  console.log("abort build: a panic resets the wasm instance; the next requests succeed");
  const before = await getJson("/debug/isolate");
  check(before.instance_resets === 0, `resets before the panic: ${before.instance_resets}`);
  // Requests in flight when the instance dies: they fail with it.
  const IN_FLIGHT = 3;
  const spinners = Array.from({ length: IN_FLIGHT }, () => get("/debug/spin?seconds=20"));
  for (let n = 0; (await getJson("/debug/isolate")).spin_route.spinning < IN_FLIGHT; n++) {
    if (n > 100) throw new Error("the spinning requests never started");
    await sleep(50);
  }
  const panicked = await get("/debug/panic?panic=true");
  const failedInFlight = await Promise.all(spinners);
  check(panicked.error !== undefined || panicked.status >= 500, `the panicking request: ${panicked.status} ${panicked.text}`);
  check(failedInFlight.every((answer) => answer.error !== undefined || answer.status >= 500),
    `the requests in flight: ${failedInFlight.map((a) => a.status ?? a.error).join(", ")}`);
  // The next requests succeed, on a new instance that reports the reset.
  const next = [];
  for (let n = 0; n < 5; n++) next.push(await get("/debug/panic"));
  check(next.every((answer) => answer.status === 200 && answer.json?.value === 3 * answer.json.request + 1),
    `the next requests: ${next.map((a) => `${a.status ?? a.error} ${a.text?.slice(0, 100)}`).join(" | ")}`);
  const fanout = await get("/fanout");
  check(fanout.status === 200, `GET /fanout after the reset: ${fanout.status} ${fanout.text}`);
  const after = await getJson("/debug/isolate");
  check(after.instance !== before.instance, `the instance was not replaced (${after.instance})`);
  check(after.instance_resets === 1, `instance resets ${after.instance_resets}`);
  // The panicking request and the spinners were in flight.
  check(after.requests_failed_by_resets === IN_FLIGHT + 1, `requests failed by the reset: ${after.requests_failed_by_resets}, expected ${IN_FLIGHT + 1}`);
  let logLine = "(no log)";
  if (WRANGLER_LOG) {
    await sleep(200);
    const server = serverLog();
    const resets = server.lines.filter((line) => line.includes("this isolate's wasm instance was reset"));
    logLine = resets[0]?.replace(/^.*scheduler: /, "scheduler: ") ?? "(none)";
    check(resets.length === 1, `${resets.length} reset lines in the server log`);
    check(resets.length === 1 && resets[0].includes(`1 earlier instance(s) died`) && resets[0].includes(`with ${IN_FLIGHT + 1} request(s) in flight`),
      `the reset line: ${logLine}`);
    check(server.crossRequestIo === 0, `${server.crossRequestIo} cross-request I/O errors`);
  }
  row("panicking request", panicked.error ? `client error: ${panicked.error}` : `${panicked.status} ${panicked.text.slice(0, 80)}`);
  row("requests in flight", failedInFlight.map((a) => a.error ? "error" : a.status).join(", "));
  row("next requests", next.map((a) => a.status ?? a.error).join(", "));
  row("instance", `${before.instance} -> ${after.instance}, resets ${after.instance_resets}, requests failed ${after.requests_failed_by_resets}`);
  row("server log", logLine);
}

if (MODE === "abort") await abort(); else await unwind();
if (violations.length > 0) {
  console.log(`\nFAIL: ${violations.length} properties violated (seed ${SEED}):`);
  for (const violation of violations) console.log(`  - ${violation}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
console.log("\nall properties hold\n1 passed, 0 failed");

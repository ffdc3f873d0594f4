// The example app's dev-only routes (worker/src/dev/mod.rs), one request each, for two checks:
// e2e.mjs (the dev server) asserts each is served, deploy.mjs (the deploy configuration)
// asserts each answers 404 saying it is a dev-only route. A new dev route is added here too.
// Requests are chosen to leave little trace on the dev server: no fault plan left active, no
// waiter left, one recorded type no event uses, the task `/debug/leak` leaks (e2e.mjs counts
// it), and the counter object of a type no event uses is reset, then read (its next instance).

/** [method, path, body] of every dev route. */
export const DEV_ROUTES = [
  ["GET", "/fanout"],
  ["GET", "/peer/fanout"],
  ["POST", "/peer/events", "{}"],
  ["GET", "/peer/events/evt-none"],
  ["GET", "/peer/counts/none"],
  ["GET", "/debug/bench"],
  ["GET", "/debug/faults"],
  ["POST", "/debug/faults", "{}"],
  ["DELETE", "/debug/faults"],
  ["GET", "/debug/accepted?type=none"],
  ["POST", "/debug/accepted?type=devroutecheck"],
  ["GET", "/debug/stored"],
  ["GET", "/debug/handoff?key=devroutecheck&value=v"],
  ["GET", "/debug/leak"],
  // The reset first: the audit after it builds the object's next instance, which ends the
  // session of the event the reset abandoned.
  ["POST", "/debug/counter/reset?type=devroutecheck", ""],
  ["GET", "/debug/counter?type=devroutecheck"],
  ["POST", "/debug/counter/panic?type=devroutecheck", ""],
  ["POST", "/debug/counter/busy?type=devroutecheck&yields=1", ""],
  ["GET", "/debug/panic"],
  ["GET", "/debug/spin?stop=true"],
  ["GET", "/debug/isolate"],
];

/** Paths no dev route serves but that sit under a dev prefix: off when deployed too. */
export const UNLISTED_DEV_PATHS = [
  ["GET", "/debug"],
  ["GET", "/debug/"],
  ["PUT", "/debug/anything/else"],
  ["GET", "/peer"],
  ["POST", "/peer/events/evt-1"],
  ["GET", "/fanout/more"],
];

/** Sends one route's request to `base`; answers { status, text, json }. */
export async function send(base, [method, path, body]) {
  const init = { method, signal: AbortSignal.timeout(15_000), headers: {} };
  if (body !== undefined) {
    init.body = body;
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

/** Whether an answer is the deployment's "dev-only route, off" 404. */
export const isDevOnlyAnswer = (answer) =>
  answer.status === 404 && typeof answer.json?.error === "string" && answer.json.error.includes("a dev-only route");

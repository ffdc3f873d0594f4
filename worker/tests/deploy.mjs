// The example app served with its deploy configuration (worker/wrangler.toml as committed, no
// --var): every dev-only route, and any other path under a dev prefix, answers 404 with a JSON
// message saying it is a dev-only route that is off; the app's own routes still serve.
// Run by scripts/test.d/60-worker-e2e.sh (which serves it):
//   WORKER_URL=http://127.0.0.1:PORT node worker/tests/deploy.mjs
import assert from "node:assert/strict";
import { DEV_ROUTES, UNLISTED_DEV_PATHS, isDevOnlyAnswer, send } from "./dev_routes.mjs";

const BASE = process.env.WORKER_URL;
if (!BASE) throw new Error("WORKER_URL is not set");
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

const tests = [];
const test = (name, body) => tests.push({ name, body });

test("every dev-only route answers 404 saying it is a dev-only route, off in this deployment", async () => {
  for (const route of [...DEV_ROUTES, ...UNLISTED_DEV_PATHS]) {
    const [method, path] = route;
    const answer = await send(BASE, route);
    assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
    assert.ok(isDevOnlyAnswer(answer), `${method} ${path}: not the dev-only message: ${answer.text}`);
    assert.equal(answer.json.status, "not_found", `${method} ${path}`);
    assert.ok(answer.json.error.startsWith(`${method} ${path.split("?")[0]}: a dev-only route`), answer.json.error);
    assert.ok(answer.json.error.includes("DEV_ROUTES=true"), "the message says how the dev server turns them on");
  }
});

test("nothing can turn faults on: the fault plan route is not mounted", async () => {
  const plan = JSON.stringify({ seed: 1, get_failure: 1, put_failure: 1 });
  const set = await send(BASE, ["POST", "/debug/faults", plan]);
  assert.ok(isDevOnlyAnswer(set), set.text);
  // The app's routes still see a store that works.
  const type = `deploy${RUN}`;
  const accepted = await send(BASE, ["POST", "/events", JSON.stringify({ type, user: "ada", values: [1, 2] })]);
  assert.equal(accepted.status, 202, accepted.text);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const stored = await send(BASE, ["GET", `/events/${accepted.json.id}`]);
    if (stored.status === 200) {
      assert.equal(stored.json.sum, 3);
      break;
    }
    assert.equal(stored.status, 404, stored.text);
    assert.ok(!isDevOnlyAnswer(stored), stored.text);
    if (Date.now() > deadline) throw new Error("the event was never stored");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (;;) {
    const stats = await send(BASE, ["GET", "/stats"]);
    assert.equal(stats.status, 200, stats.text);
    if (stats.json.wait_until.pending === 0) break;
    if (Date.now() > deadline) throw new Error("wait_until work never settled");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const count = await send(BASE, ["GET", `/counts/${type}`]);
  assert.deepEqual(count.json, { type, count: 1 });
});

test("other unknown paths get the plain 404, and the app's validation still applies", async () => {
  const unknown = await send(BASE, ["GET", "/debugger"]);
  assert.equal(unknown.status, 404, unknown.text);
  assert.ok(!isDevOnlyAnswer(unknown), unknown.text);
  assert.equal(unknown.json.error, "no route for GET /debugger");
  const badType = await send(BASE, ["GET", "/counts/Not%20A%20Type"]);
  assert.equal(badType.status, 400, badType.text);
  assert.equal(badType.json.field, "type");
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

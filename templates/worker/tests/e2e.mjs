// The template on real workerd: its routes answer, the work it registers with `wait_until`
// lands, bad input gets a 4xx. Run by scripts/test.d/65-worker-template.sh (which serves it):
//   WORKER_URL=http://127.0.0.1:PORT node templates/worker/tests/e2e.mjs
import assert from "node:assert/strict";

const BASE = process.env.WORKER_URL;
if (!BASE) throw new Error("WORKER_URL is not set");
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

async function request(method, path) {
  const response = await fetch(BASE + path, { method, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

async function greetedEventually(name, expected) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await request("GET", `/hello/${name}`);
    assert.equal(answer.status, 200, answer.text);
    if (answer.json.greeted === expected) return;
    assert.ok(answer.json.greeted < expected, `counted too often: ${answer.text}`);
    if (Date.now() > deadline) throw new Error(`${name}: greeted ${answer.json.greeted}, expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const tests = [];
const test = (name, body) => tests.push({ name, body });

test("POST /hello/{name} answers 202 at once, and its wait_until work records the greeting", async () => {
  const name = `ada-${RUN}`;
  const answer = await request("POST", `/hello/${name}`);
  assert.equal(answer.status, 202, answer.text);
  assert.deepEqual(answer.json, { greeting: `hello, ${name}` });
  await greetedEventually(name, 1);
});

test("20 concurrent greetings each land exactly once", async () => {
  const name = `grace-${RUN}`;
  const answers = await Promise.all(Array.from({ length: 20 }, () => request("POST", `/hello/${name}`)));
  for (const answer of answers) assert.equal(answer.status, 202, answer.text);
  await greetedEventually(name, 20);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await request("GET", `/hello/${name}`)).json.greeted, 20, "counted twice");
  assert.equal((await request("GET", `/hello/nobody-${RUN}`)).json.greeted, 0);
});

test("bad input gets a 4xx", async () => {
  for (const path of ["/hello/Ada", `/hello/${"a".repeat(33)}`, "/hello/a%20b"]) {
    for (const method of ["POST", "GET"]) {
      const answer = await request(method, path);
      assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.json.field, "name", answer.text);
      assert.match(answer.json.error, /`name` must be 1 to 32 characters/);
    }
  }
  assert.equal((await request("GET", "/nowhere")).status, 404);
  assert.equal((await request("GET", "/hello/a/b")).status, 404);
  assert.equal((await request("PUT", "/hello/ada")).status, 405);
  // Nothing was recorded for a rejected name.
  assert.equal((await request("GET", `/hello/ada`)).json.greeted, 0);
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

// The panic = "abort" reset scenario (wasm-tests/src/reset.rs), in Node, on the module bound
// as worker-build binds a Worker:
//   wasm-bindgen --target nodejs --experimental-reset-state-function --force-enable-abort-handler
//   node run.js PKG_DIR
// Prints one line per check and "N passed, N failed"; exits 1 if a check failed.
const path = require('path');
const glue = require(path.resolve(process.argv[2], 'wasm_tests.js'));

const uncaught = [];
process.on('uncaughtException', (error) => uncaught.push(String(error)));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let passed = 0, failed = 0;
function check(what, ok, detail) {
  if (ok) passed += 1; else failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok ? '' : `: ${JSON.stringify(detail)}`}`);
}

(async () => {
  const contexts = [0, 1, 2].map(() => ({ waitUntil() {}, passThroughOnException() {} }));
  check('three requests in flight', glue.reset_scenario_start(contexts) === 3);
  await sleep(120); // their ticks (50 ms) run while the instance lives
  const book = globalThis.__tandem_scheduler_instances;
  check('the instance registered itself, alive', book.records.length === 1 && !book.records[0].dead,
    book.records.map((r) => r.dead));
  check('and counts its requests in flight', book.records[0].inFlight === 3, book.records[0].inFlight);
  check('nothing was skipped while it lived', book.skipped_callbacks === 0, book.skipped_callbacks);

  glue.reset_scenario_panic();
  await sleep(300); // the trap, then the dead instance's ticks and timers come due
  check('the panic trapped the instance once (one uncaught RuntimeError)',
    uncaught.length === 1 && /RuntimeError/.test(uncaught[0]) && /unreachable/.test(uncaught[0]), uncaught);
  check('the instance is marked dead', book.records[0].dead === true);
  const skipped = book.skipped_callbacks;
  check('its ticks came due and were skipped, not run', skipped >= 3, skipped);
  await sleep(200);
  check('the ticks cleared themselves (no more skips)', book.skipped_callbacks === skipped,
    [skipped, book.skipped_callbacks]);

  // The next call into the module resets it (the worker crate's abort hook scheduled a
  // reinit), as a Worker's next request does.
  const report = await glue.reset_scenario_after();
  check('the new instance found 1 dead instance with 3 requests in flight, and runs tasks',
    report === '1,3,ok', report);
  check('its totals survived the reset', book.resets === 1 && book.requests_failed === 3,
    [book.resets, book.requests_failed]);
  await sleep(200); // anything of the dead instance still armed comes due now
  check('no callback of the dead instance reached wasm after the reset (no stale-closure or ' +
    '"Module terminated" error)', uncaught.length === 1, uncaught);
  check('only the new instance is registered, alive',
    book.records.length === 1 && !book.records[0].dead, book.records.map((r) => r.dead));
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})().catch((error) => {
  console.log(`FAIL the scenario threw: ${error && error.stack || error}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});

// One scenario of wasm-tests/src/bench.rs, for counting instructions under callgrind
// (`scripts/bench-wasm.sh instructions`): two warm-up rounds, then ROUNDS rounds, with a time
// slice of 60 s (valgrind runs 50x slower: the 4 ms default would make yields far more frequent).
//   node instructions.js PKG_DIR SCENARIO ROUNDS
// The count per task or yield is the difference between two ROUNDS, divided by the work.
const path = require('path');
const [pkg, scenario, rounds] = process.argv.slice(2);
const bench = require(path.resolve(pkg, 'wasm_tests.js'));

(async () => {
  await bench.run_scenario(scenario, 2, 60000);
  const out = await bench.run_scenario(scenario, Number(rounds), 60000);
  if (out.startsWith('unknown')) throw new Error(out);
})();

// What panic = "unwind" costs against panic = "abort", in one Node process: the same benchmark
// module (wasm-tests, release) built both ways (scripts/bench-wasm.sh panic-cost), its size, and
// wa (spawn + complete many tasks), wb (wake-heavy ping-pong) and wt (timers), interleaved
// round by round: medians of ours (the WasmScheduler) and of the peer (spawn_local) in each
// build, and the ratio unwind / abort.
//   node panic-cost.js ABORT_PKG UNWIND_PKG [ROUNDS]
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const [abortPkg, unwindPkg, roundsArg] = process.argv.slice(2);
const rounds = Math.max(Number(roundsArg || 7), 3);
const builds = [
  ['abort', require(path.resolve(abortPkg, 'wasm_tests.js')), abortPkg],
  ['unwind', require(path.resolve(unwindPkg, 'wasm_tests.js')), unwindPkg],
];
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

(async () => {
  console.log('wasm size (bytes):');
  const sizes = {};
  for (const [name, , pkg] of builds) {
    const wasm = fs.readFileSync(path.resolve(pkg, 'wasm_tests_bg.wasm'));
    sizes[name] = [wasm.length, zlib.gzipSync(wasm, { level: 9 }).length];
    console.log(`  ${name.padEnd(6)} ${String(sizes[name][0]).padStart(9)} raw ` +
      `${String(sizes[name][1]).padStart(8)} gzip`);
  }
  console.log(`  unwind / abort: raw ${(sizes.unwind[0] / sizes.abort[0]).toFixed(3)}, ` +
    `gzip ${(sizes.unwind[1] / sizes.abort[1]).toFixed(3)}`);
  const samples = {};
  for (const [name, module] of builds) await module.run_scenario('wb', 1, 4); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const scenario of ['wa', 'wb', 'wt']) {
      for (const [name, module] of builds) {
        const line = await module.run_scenario(scenario, 1, 4);
        const m = line.match(/ours ([\d.]+) peer ([\d.]+)/);
        if (!m) throw new Error(`unexpected output: ${line}`);
        const key = `${scenario} ${name}`;
        (samples[key] ??= { ours: [], peer: [] }).ours.push(+m[1]);
        samples[key].peer.push(+m[2]);
      }
    }
  }
  console.log(`\nmedians of ${rounds} interleaved rounds (as run_scenario reports them):`);
  console.log('  scenario  ours abort   ours unwind  unwind/abort | peer abort   peer unwind  unwind/abort');
  for (const scenario of ['wa', 'wb', 'wt']) {
    const a = samples[`${scenario} abort`], u = samples[`${scenario} unwind`];
    const [oa, ou, pa, pu] = [median(a.ours), median(u.ours), median(a.peer), median(u.peer)];
    console.log(`  ${scenario.padEnd(8)} ${oa.toFixed(2).padStart(11)} ${ou.toFixed(2).padStart(12)} ` +
      `${(ou / oa).toFixed(3).padStart(13)} | ${pa.toFixed(2).padStart(10)} ${pu.toFixed(2).padStart(12)} ` +
      `${(pu / pa).toFixed(3).padStart(13)}`);
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});

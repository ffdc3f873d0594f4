// Runs the wasm benchmarks built by scripts/bench-wasm.sh in Node.
//   node run.js PKG_DIR [ROUNDS] [CURVE_CSV [CURVE_MAX [TARGETS_CSV]]]
//                                    the benchmark (BENCHMARKS.md wa, wb, wt, ws, wp); with
//                                    CURVE_CSV also the wa curve (1k..CURVE_MAX tasks, default
//                                    1M) written there as CSV; then the targets of issue 11
//                                    (also written to TARGETS_CSV when given)
//   node run.js PKG_DIR diagnose     where wb's time goes: min of 25 runs of the bare
//                                    async-task floor, the scheduler without the core's
//                                    per-poll wrapper, and the full path, each vs the peer
const fs = require('fs');
const path = require('path');
const [pkg, mode, curveCsv, curveMax, targetsCsv] = process.argv.slice(2);
const bench = require(path.resolve(pkg, 'wasm_tests.js'));

async function diagnose() {
  for (const scenario of ['wb-floor', 'wb-nowrap', 'wb', 'wa']) {
    const ours = [], peer = [];
    for (let i = 0; i < 25; i++) {
      const line = await bench.run_scenario(scenario, 1, 4);
      const m = line.match(/ours ([\d.]+) peer ([\d.]+)/);
      ours.push(+m[1]);
      peer.push(+m[2]);
    }
    ours.sort((a, b) => a - b);
    peer.sort((a, b) => a - b);
    console.log(`${scenario.padEnd(10)} min of 25: ours ${ours[0].toFixed(1)} ns, ` +
      `peer ${peer[0].toFixed(1)} ns, ratio ${(ours[0] / peer[0]).toFixed(3)}`);
  }
}

/** Prints the targets CSV (target,measured,verdict) as a table. */
function printTargets(csv) {
  console.log('\ntargets (issues 11 and 21), ours / peer of the medians:');
  for (const line of csv.trim().split('\n').slice(1)) {
    const [, what, measured, verdict] = line.match(/^"(.*)","(.*)",(\w+)$/);
    console.log(`  ${what.padEnd(44)} ${measured.padStart(28)}  ${verdict}`);
  }
}

(async () => {
  if (mode === 'diagnose') {
    await diagnose();
    return;
  }
  const rounds = Number(mode || 7);
  console.log(await bench.run_benchmarks(rounds));
  if (curveCsv) {
    const max = Number(curveMax || 1000000);
    console.error(`wa curve: 1k..${max} tasks, warm-up + ${Math.max(rounds, 5)} rounds`);
    fs.writeFileSync(curveCsv, await bench.run_wa_curve(rounds, max));
  }
  const targets = bench.bench_targets_csv();
  if (targetsCsv) fs.writeFileSync(targetsCsv, targets);
  printTargets(targets);
})();

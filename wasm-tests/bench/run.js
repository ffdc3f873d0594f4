// Runs the wasm benchmarks built by scripts/bench-wasm.sh in Node.
//   node run.js PKG_DIR [ROUNDS]     the benchmark (BENCHMARKS.md wa, wb, wt, ws)
//   node run.js PKG_DIR diagnose     where wb's time goes: min of 25 runs of the bare
//                                    async-task floor, the scheduler without the core's
//                                    per-poll wrapper, and the full path, each vs the peer
const path = require('path');
const [pkg, mode] = process.argv.slice(2);
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

(async () => {
  if (mode === 'diagnose') {
    await diagnose();
  } else {
    console.log(await bench.run_benchmarks(Number(mode || 7)));
  }
})();

// The Worker load benchmark's bookkeeping (scripts/bench-worker.sh runs wrk; this reads the
// Worker's state and summarizes). Never fails on the figures: a benchmark prints.
//
//   node report.mjs state URL TYPE OUT.json      the state the verification compares: the
//                                                fanout tallies and ingest 202 counts
//                                                (/debug/bench), the counters of TYPE, the
//                                                stored summaries, /stats' pending work
//   node report.mjs settle URL TYPE OUT.json     waits (bounded) until every wait_until job has
//                                                landed, then writes the state
//   node report.mjs summarize RUNS.tsv BASE.json FINAL.json RESULTS_DIR TARGET_CONNECTIONS
//                                                medians, ratios ours / peer with their spread,
//                                                p99, the side-effect verification, the charts'
//                                                CSV (worker-rps, worker-p99) and the targets
//
// RUNS.tsv: pair, connections, round, route, req/s, p99 ms, requests, non-2xx, timeouts.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [command, ...args] = process.argv.slice(2);

async function getJson(url, timeoutMs = 120_000) {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function state(base, type, { stored = true } = {}) {
  const [bench, stats, ours, peer] = await Promise.all([
    getJson(`${base}/debug/bench`),
    getJson(`${base}/stats`),
    getJson(`${base}/counts/${type}`),
    getJson(`${base}/peer/counts/${type}`),
  ]);
  const summaries = stored ? await getJson(`${base}/debug/stored`) : undefined;
  return {
    fanout: bench.fanout,
    ingest: {
      ours: { accepted: bench.ingest.ours.accepted, counted: ours.count, summaries: summaries?.ours },
      peer: { accepted: bench.ingest.peer.accepted, counted: peer.count, summaries: summaries?.peer },
    },
    stats: {
      wait_until: stats.wait_until,
      counter_increments_pending: stats.counter_increments_pending,
      ingest_failures: stats.ingest_failures.length,
      leaked_tasks: stats.leaked_tasks,
      sessions_open: stats.sessions.length,
      requests: stats.requests,
      sessions_ended: stats.sessions_ended,
      tasks: stats.tasks,
    },
  };
}

/** Every wait_until job landed: nothing pending, each accepted event counted (this run's
 * state folder is fresh and its one event type is TYPE, so the totals compare directly). */
function settled(s) {
  return s.fanout.ours.pending === 0 && s.fanout.peer.pending === 0 &&
    s.stats.wait_until.pending === 0 && s.stats.counter_increments_pending === 0 &&
    s.ingest.ours.counted + s.stats.ingest_failures >= s.ingest.ours.accepted &&
    s.ingest.peer.counted >= s.ingest.peer.accepted;
}

async function settle(base, type) {
  const limitMs = Number(process.env.SETTLE_SECONDS ?? 180) * 1000;
  const started = Date.now();
  let previous = "";
  let unchangedSince = Date.now();
  for (;;) {
    const s = await state(base, type, { stored: false });
    if (settled(s)) break;
    const now = JSON.stringify(s);
    if (now !== previous) {
      previous = now;
      unchangedSince = Date.now();
    }
    if (Date.now() - started > limitMs || Date.now() - unchangedSince > 30_000) {
      console.error(`not settled after ${((Date.now() - started) / 1000).toFixed(0)} s: ${now}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // Give the last writes a moment, then read everything (with the stored summaries).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return state(base, type);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const spread = (values) => [Math.min(...values), Math.max(...values)];
const fixed = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

function summarize(runsPath, basePath, finalPath, resultsDir, targetConnections) {
  const rows = readFileSync(runsPath, "utf8").trim().split("\n").filter(Boolean).map((line) => {
    const [pair, connections, round, route, rps, p99, requests, non2xx, timeouts] = line.split("\t");
    return {
      pair, connections: +connections, round: +round, route,
      rps: +rps, p99: +p99, requests: +requests, non2xx: +non2xx, timeouts: +timeouts,
    };
  });
  const base = JSON.parse(readFileSync(basePath, "utf8"));
  const final = JSON.parse(readFileSync(finalPath, "utf8"));
  const pairs = [...new Set(rows.map((r) => r.pair))];
  const connectionsList = [...new Set(rows.map((r) => r.connections))].sort((a, b) => a - b);
  const title = { fanout: "fanout (CPU-bound, no KV)", ingest: "ingest (POST /events, KV)" };
  const rpsCsv = ["series,x,median,min,max,samples"];
  const p99Csv = ["series,x,median,min,max,samples"];
  const figures = {}; // pair -> connections -> {...}

  console.log("\nmedians over rounds; ratio = ours / spawn_local per round: median [min-max]");
  for (const pair of pairs) {
    console.log(`\n${title[pair] ?? pair}`);
    console.log(`  ${"conns".padStart(5)} ${"ours req/s".padStart(12)} ${"peer req/s".padStart(12)} ` +
      `${"req/s ratio".padStart(22)} ${"ours p99".padStart(10)} ${"peer p99".padStart(10)} ` +
      `${"p99 ratio".padStart(22)}  timeouts/non-2xx`);
    figures[pair] = {};
    for (const connections of connectionsList) {
      const of = (route) => rows.filter((r) => r.pair === pair && r.connections === connections && r.route === route)
        .sort((a, b) => a.round - b.round);
      const ours = of("ours");
      const peer = of("peer");
      if (!ours.length || !peer.length) continue;
      const rounds = ours.map((o) => [o, peer.find((p) => p.round === o.round)]).filter(([, p]) => p);
      const rpsRatios = rounds.map(([o, p]) => o.rps / p.rps);
      const p99Ratios = rounds.map(([o, p]) => o.p99 / p.p99);
      const f = {
        oursRps: median(ours.map((r) => r.rps)), peerRps: median(peer.map((r) => r.rps)),
        oursP99: median(ours.map((r) => r.p99)), peerP99: median(peer.map((r) => r.p99)),
        rpsRatio: median(rpsRatios), rpsSpread: spread(rpsRatios),
        p99Ratio: median(p99Ratios), p99Spread: spread(p99Ratios), rounds: rounds.length,
      };
      figures[pair][connections] = f;
      const bad = [...ours, ...peer].reduce((sum, r) => sum + r.timeouts + r.non2xx, 0);
      console.log(`  ${String(connections).padStart(5)} ${fixed(f.oursRps, 1).padStart(12)} ${fixed(f.peerRps, 1).padStart(12)} ` +
        `${`${fixed(f.rpsRatio, 3)} [${fixed(f.rpsSpread[0], 3)}-${fixed(f.rpsSpread[1], 3)}]`.padStart(22)} ` +
        `${`${fixed(f.oursP99)} ms`.padStart(10)} ${`${fixed(f.peerP99)} ms`.padStart(10)} ` +
        `${`${fixed(f.p99Ratio, 3)} [${fixed(f.p99Spread[0], 3)}-${fixed(f.p99Spread[1], 3)}]`.padStart(22)}  ${bad}`);
      for (const [route, runs] of [["ours", ours], ["spawn_local", peer]]) {
        const series = `${pair} ${route}`;
        const rps = runs.map((r) => r.rps);
        const p99 = runs.map((r) => r.p99);
        rpsCsv.push(`${series},${connections},${fixed(median(rps), 3)},${fixed(Math.min(...rps), 3)},${fixed(Math.max(...rps), 3)},${runs.length}`);
        p99Csv.push(`${series},${connections},${fixed(median(p99), 3)},${fixed(Math.min(...p99), 3)},${fixed(Math.max(...p99), 3)},${runs.length}`);
      }
    }
  }

  // Side effects, over the whole run (base: after the warm-up had settled).
  console.log("\nside effects (whole run, after every wait_until job settled):");
  const verdicts = {};
  const clientAnswers = (pair, route) => rows.filter((r) => r.pair === pair && r.route === route)
    .reduce((sum, r) => sum + r.requests - r.non2xx, 0);
  if (pairs.includes("fanout")) {
    for (const route of ["ours", "peer"]) {
      const before = base.fanout[route];
      const after = final.fanout[route];
      const requests = after.requests - before.requests;
      const registered = after.jobs_registered - before.jobs_registered;
      const completed = after.jobs_completed - before.jobs_completed;
      const doubled = after.doubled - before.doubled;
      const wrong = after.wrong_sums - before.wrong_sums;
      const lost = registered - completed;
      const answered = clientAnswers("fanout", route);
      // wrk does not count the answers in flight when it stops, so the server may have
      // answered a few more than wrk saw, never fewer.
      const unseen = answered - registered;
      verdicts[`fanout ${route}`] = lost === 0 && doubled === 0 && wrong === 0 && after.pending === 0 && unseen <= 0;
      console.log(`  fanout ${route.padEnd(4)}: handlers ${requests}, answered ${registered} (wrk saw ${answered}), ` +
        `wait_until jobs completed ${completed}, lost ${lost}, doubled ${doubled}, wrong sums ${wrong}, ` +
        `still pending ${after.pending}${unseen > 0 ? `, ${unseen} answers wrk saw but the server never registered` : ""}`);
    }
  }
  if (pairs.includes("ingest")) {
    for (const route of ["ours", "peer"]) {
      const before = base.ingest[route];
      const after = final.ingest[route];
      const accepted = after.accepted - before.accepted;
      const summaries = after.summaries - before.summaries;
      const counted = after.counted - before.counted;
      const answered = clientAnswers("ingest", route);
      const lost = Math.max(0, accepted - summaries);
      const doubled = Math.max(0, counted - accepted) + Math.max(0, summaries - accepted);
      const missing = Math.max(0, accepted - counted);
      const failures = route === "ours" ? final.stats.ingest_failures - base.stats.ingest_failures : 0;
      verdicts[`ingest ${route}`] = lost === 0 && doubled === 0 && missing === 0 && failures === 0 && answered <= accepted;
      console.log(`  ingest ${route.padEnd(4)}: 202s ${accepted} (wrk saw ${answered}), summaries stored ${summaries}, ` +
        `counter +${counted}: lost ${lost}, doubled ${doubled}, not counted ${missing}` +
        (route === "ours" ? `, ingest_failures +${failures}` : ""));
    }
  }
  const s = final.stats;
  console.log(`  ours /stats: wait_until ${JSON.stringify(s.wait_until)}, leaked ${s.leaked_tasks}, ` +
    `sessions open ${s.sessions_open}, sessions ended ${s.sessions_ended} of ${s.requests} requests, ` +
    `tasks ${JSON.stringify(s.tasks)}`);

  mkdirSync(resultsDir, { recursive: true });
  const rounds = Math.max(...rows.map((r) => r.round));
  const header = (what, unit, scale) =>
    `# title: Worker on workerd: ${what} against connections (wrk, median of ${rounds} rounds)\n` +
    `# x: connections\n# y: ${unit}\n# scale: ${scale}\n`;
  writeFileSync(join(resultsDir, "worker-rps.csv"), header("requests/s", "req/s", "log-x log-y") + rpsCsv.join("\n") + "\n");
  writeFileSync(join(resultsDir, "worker-p99.csv"), header("p99 latency", "p99 ms", "log-x log-y") + p99Csv.join("\n") + "\n");

  // The targets of issue 11, at TARGET_CONNECTIONS (64, or the largest measured).
  const at = connectionsList.includes(targetConnections) ? targetConnections : connectionsList.at(-1);
  const targets = [];
  const check = (what, measured, met) => targets.push({ what, measured, met });
  const goals = { fanout: ["CPU route", 1.1], ingest: ["ingest route", 1.0] };
  for (const pair of pairs) {
    const f = figures[pair]?.[at];
    const [name, goal] = goals[pair] ?? [pair, 1.0];
    if (f) {
      check(`Worker ${name} req/s >= ${goal.toFixed(1)}x spawn_local (${at} conns)`,
        `${fixed(f.rpsRatio)}x [${fixed(f.rpsSpread[0])}-${fixed(f.rpsSpread[1])}]`, f.rpsRatio >= goal);
      check(`Worker ${name} p99 <= 1.0x spawn_local (${at} conns)`,
        `${fixed(f.p99Ratio)}x (${fixed(f.oursP99)} vs ${fixed(f.peerP99)} ms)`, f.p99Ratio <= 1.0);
    }
    for (const route of ["ours", "peer"]) {
      if (`${pair} ${route}` in verdicts) {
        check(`Worker ${name} ${route}: no lost or doubled work`,
          verdicts[`${pair} ${route}`] ? "0 lost, 0 doubled" : "see above", verdicts[`${pair} ${route}`]);
      }
    }
  }
  console.log("\ntargets (issue 11), ours / peer of the medians:");
  const csv = ["target,measured,verdict"];
  for (const { what, measured, met } of targets) {
    const verdict = met ? "met" : "missed";
    console.log(`  ${what.padEnd(52)} ${measured.padStart(28)}  ${verdict}`);
    csv.push(`"${what}","${measured}",${verdict}`);
  }
  writeFileSync(join(resultsDir, "worker.targets.csv"), csv.join("\n") + "\n");
}

try {
  if (command === "state") {
    const [base, type, out] = args;
    writeFileSync(out, JSON.stringify(await state(base, type), null, 1));
  } else if (command === "settle") {
    const [base, type, out] = args;
    writeFileSync(out, JSON.stringify(await settle(base, type), null, 1));
  } else if (command === "summarize") {
    const [runs, base, final, resultsDir, targetConnections] = args;
    summarize(runs, base, final, resultsDir, Number(targetConnections));
  } else {
    console.error("usage: report.mjs state|settle|summarize ...");
    process.exit(2);
  }
} catch (error) {
  console.error(`report.mjs ${command}: ${error.stack ?? error}`);
  process.exit(1);
}

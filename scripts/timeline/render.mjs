// Checks that a timeline file (Chrome trace event JSON) is valid and loads, then renders it.
//
//   node scripts/timeline/render.mjs <trace.json> <output folder>
//
// 1. Validates it against trace-event.schema.json (the Trace Event Format's JSON object form,
//    written for this project) with ajv, and checks that the schema rejects broken events.
// 2. Loads it in speedscope (an independent viewer of the format, from npm) in headless
//    Chromium: the import must succeed and list the file's tracks.
// 3. Renders it with viewer.html (this folder) in headless Chromium and screenshots it to
//    <output folder>/timeline.png; the drawn slices, instants and flows must match the file.
//
// Perfetto's UI is not on the npm registry (nor reachable here) and Debian's Chromium has no
// chrome://tracing, hence speedscope and the small viewer. Needs NODE_PATH with playwright-core,
// ajv and speedscope (scripts/install-tools.sh timeline installs them).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const Ajv = require('ajv');
const { chromium } = require('playwright-core');
const here = path.dirname(new URL(import.meta.url).pathname);
const [tracePath, outDir] = process.argv.slice(2);
if (!tracePath || !outDir) throw new Error('usage: render.mjs <trace.json> <output folder>');
fs.mkdirSync(outDir, { recursive: true });
const text = fs.readFileSync(tracePath, 'utf8');
const trace = JSON.parse(text);
const fail = (message) => { console.error(`FAIL ${message}`); process.exit(1); };

// 1. The schema.
const schema = JSON.parse(fs.readFileSync(path.join(here, 'trace-event.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
if (!validate(trace)) fail(`schema: ${JSON.stringify(validate.errors.slice(0, 5), null, 1)}`);
const broken = [
  { ph: 'B', pid: 1, tid: 1, name: 'no ts' },
  { ph: 'i', pid: 1, tid: 1, ts: 1, name: 'bad scope', s: 'x' },
  { ph: 'f', pid: 1, tid: 1, ts: 1, name: 'spawn', cat: 'spawn' },
  { ph: 'M', pid: 1, tid: 1, name: 'thread_name', args: {} },
  { ph: 'Q', pid: 1, tid: 1, ts: 1 },
];
for (const event of broken) {
  if (validate({ traceEvents: [event] })) fail(`the schema accepts a broken event: ${JSON.stringify(event)}`);
}
const count = (ph) => trace.traceEvents.filter((e) => e.ph === ph).length;
const expected = {
  slices: count('B') + count('X'),
  instants: count('i') + count('I'),
  flows: count('f'),
  tracks: new Set(trace.traceEvents.filter((e) => e.ph !== 'M').map((e) => `${e.pid}:${e.tid}`)).size,
};
console.log(`schema: valid (${trace.traceEvents.length} events: ${JSON.stringify(expected)}); ${broken.length} broken events rejected`);

// A loopback server for the viewer, speedscope and the trace.
const speedscope = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.woff2': 'font/woff2' };
const server = http.createServer((request, response) => {
  const url = decodeURIComponent(request.url.split('?')[0].split('#')[0]);
  let file = null;
  if (url === '/trace.json') file = tracePath;
  else if (url === '/viewer.html') file = path.join(here, 'viewer.html');
  else if (url.startsWith('/speedscope/')) {
    file = path.join(speedscope, path.normalize(url.slice('/speedscope/'.length)));
    if (!file.startsWith(speedscope)) file = null;
  }
  if (!file || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(response);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1600, height: 900 },
  deviceScaleFactor: 1,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));

  // 2. speedscope: one profile per track with slices, and no complaint about the nesting.
  const complaints = [];
  page.on('console', (message) => {
    // ("Ending <frame> instead" only says the end carries no args: speedscope keys frames by
    // name and args; the end still closes the right slice.)
    if (/Doing nothing instead|still open|stack was empty|Unrecognized|failed/i.test(message.text())) complaints.push(message.text());
  });
  await page.goto(`${base}/speedscope/index.html#profileURL=${encodeURIComponent(`${base}/trace.json`)}`);
  await page.waitForFunction(() => /\(\d+\/\d+\)/.test(document.body.innerText), null, { timeout: 30000 });
  const withSlices = new Set(trace.traceEvents.filter((e) => e.ph === 'B').map((e) => `${e.pid}:${e.tid}`)).size;
  const [, , profiles] = (await page.evaluate(() => document.body.innerText)).match(/\((\d+)\/(\d+)\)/);
  if (+profiles !== withSlices) fail(`speedscope imported ${profiles} profiles, the file has ${withSlices} tracks with slices`);
  if (complaints.length) fail(`speedscope: ${complaints.slice(0, 3).join('; ')}`);
  // Its last profile (a session's track, when there is one), as it draws it.
  for (let i = 1; i < withSlices; i++) await page.keyboard.press('n');
  await page.waitForTimeout(1000);
  const shown = (await page.evaluate(() => document.body.innerText)).match(/[^\n]*\(\d+\/\d+\)/)[0];
  await page.screenshot({ path: path.join(outDir, 'speedscope.png') });
  console.log(`speedscope: imported ${profiles} profiles (one per track with slices), no nesting complaint; showing ${JSON.stringify(shown)}`);

  // 3. The viewer.
  await page.setViewportSize({ width: 1600, height: 600 });
  await page.goto(`${base}/viewer.html#${encodeURIComponent('/trace.json')}`);
  await page.waitForFunction(() => window.rendered || window.renderError, null, { timeout: 30000 });
  const rendered = await page.evaluate(() => window.rendered || { error: window.renderError });
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  for (const key of Object.keys(expected)) {
    if (rendered[key] !== expected[key]) fail(`viewer drew ${JSON.stringify(rendered)}, the file has ${JSON.stringify(expected)}`);
  }
  await page.locator('#timeline').screenshot({ path: path.join(outDir, 'timeline.png') });
  console.log(`viewer: drew ${JSON.stringify(rendered)} -> ${path.join(outDir, 'timeline.png')}`);
} finally {
  await browser.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

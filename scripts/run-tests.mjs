#!/usr/bin/env node
// Runs one tier of the compiled test suite with node's test runner.
//   unit: *.test.js that are neither *.int.test.js nor under tests/e2e
//   worker: the mediasoup worker's own Catch2 suite, built with our patches (scripts/build-worker.sh)
//   int:  *.int.test.js          e2e: tests/dist/e2e/**/*.test.js
// Usage: node scripts/run-tests.mjs <unit|worker|int|e2e|all> [name-filter]
// (for the worker tier the filter is a Catch2 test spec, e.g. "[senderclock]")
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { workerBin } from './worker-bin.mjs';

const root = new URL('..', import.meta.url).pathname;
const [tier = 'all', filter = ''] = process.argv.slice(2);
const roots = ['shared/dist', 'services/sfu/dist', 'services/recorder/dist', 'services/api/dist', 'tests/dist'];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(relative(root, p));
  }
  return out;
}

// The integration tests import mediasoup in-process; it reads MEDIASOUP_WORKER_BIN on import.
process.env.MEDIASOUP_WORKER_BIN = workerBin();

/** The worker's Catch2 suite, from the same build (and cache entry) as the worker binary. */
function runWorkerSuite() {
  const testBin = join(dirname(workerBin({ withTests: true })), 'mediasoup-worker-test');
  console.log(`# tier worker: ${testBin}`);
  // Some cases read fixtures at test/data/… relative to the worker's dir: the package's own.
  const cwd = join(root, 'node_modules/mediasoup/worker');
  const r = spawnSync(testBin, ['--invisibles', ...(filter ? [filter] : [])], { cwd, stdio: 'inherit' });
  return r.status === 0;
}

const all = roots.flatMap((r) => walk(join(root, r), [])).sort();
const tierOf = (f) => (f.startsWith('tests/dist/e2e/') ? 'e2e' : f.endsWith('.int.test.js') ? 'int' : 'unit');
const tiers = tier === 'all' ? ['unit', 'worker', 'int', 'e2e'] : [tier];
let failed = false;
for (const t of tiers) {
  if (t === 'worker') {
    if (!runWorkerSuite()) failed = true;
    continue;
  }
  const files = all.filter((f) => tierOf(f) === t && f.includes(filter));
  if (files.length === 0) {
    console.log(`# tier ${t}: no test files`);
    continue;
  }
  console.log(`# tier ${t}: ${files.length} files`);
  // Integration and e2e tests start real servers (mediasoup, ffmpeg, Chromium, Ceph):
  // run their files one at a time so 2-core machines are not oversubscribed.
  // --test-force-exit: a file whose tests are done exits even if something it started leaked a
  // handle (a browser, a socket), instead of holding the whole run until CI's deadline.
  const args = ['--enable-source-maps', '--test', '--test-force-exit', `--test-concurrency=${t === 'unit' ? 2 : 1}`, ...files];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

// Where the mediasoup worker binary is, for scripts that run without scripts/lib.sh (the
// launcher, the test runner): MEDIASOUP_WORKER_BIN when set, otherwise the binary that
// scripts/build-worker.sh builds or finds in its cache (its last line of stdout).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');

/** Absolute path of the worker; `withTests` also makes sure mediasoup-worker-test exists next to it. */
export function workerBin({ withTests = false } = {}) {
  if (process.env.MEDIASOUP_WORKER_BIN && !withTests) return process.env.MEDIASOUP_WORKER_BIN;
  const args = [join(root, 'scripts/build-worker.sh'), ...(withTests ? ['--with-tests'] : [])];
  const out = execFileSync('bash', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

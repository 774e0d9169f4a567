// Debian's Prometheus for tests: scrapes the given jobs every second from its own temporary
// directory on a free loopback port, answers instant queries, and is removed on stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const PROMETHEUS = process.env['PROMETHEUS_PATH'] ?? '/usr/bin/prometheus';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  url: string;
  /** An instant query; throws on a query error. */
  query(expr: string): Promise<PromSample[]>;
  /** Scrape targets with their health, by job. */
  targets(): Promise<{ job: string; health: string; instance: string }[]>;
  stop(): Promise<void>;
}

/** `jobs`: job name → host:port targets. `ruleFiles` are loaded (absolute paths). */
export async function startPrometheus(jobs: Record<string, string[]>, opts: { ruleFiles?: string[] } = {}): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'lw-prom-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config)); // JSON is YAML
  const logs: string[] = [];
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) break;
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (
    child.exitCode !== null ||
    !(await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    await stop();
    throw new Error(`prometheus did not start:\n${logs.join('').slice(-2000)}`);
  }
  return {
    url,
    async query(expr) {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
      if (body.status !== 'success') throw new Error(`query failed: ${body.error ?? r.status}: ${expr}`);
      return body.data?.resultType === 'vector' ? (body.data.result ?? []) : [];
    },
    async targets() {
      const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] };
      };
      return body.data.activeTargets.map((t) => ({ job: t.labels.job, instance: t.labels.instance, health: t.health }));
    },
    stop,
  };
}

/** A dashboard expression as Grafana would send it with "All" instances selected. */
export const grafanaExpr = (expr: string, rateInterval = '30s'): string =>
  expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', rateInterval);

// Every Grafana panel returns data: the stack as `npm start` runs it, Debian's Prometheus
// scraping its three services every second, a browser publishing over WHIP and a recording
// made through the REST API; then every panel expression of every dashboard is evaluated as
// Grafana would (all instances) and must return at least one series. Panels that count rare
// events (errors, failures) return an explicit zero when nothing happened.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { grafanaExpr, startPrometheus, type Prometheus } from '../support/prometheus.js';
import { startStack, type Stack } from '../support/stack.js';

const DASHBOARDS = fileURLToPath(new URL('../../../compose/grafana/dashboards/', import.meta.url));

interface Panel {
  title: string;
  targets: { expr: string }[];
}

async function json<T>(url: string, method = 'GET'): Promise<{ status: number; body: T }> {
  const r = await fetch(url, { method });
  return { status: r.status, body: (await r.json()) as T };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('dashboards', { timeout: 240_000 }, () => {
  let stack: Stack | undefined;
  let prom: Prometheus | undefined;
  let browser: Browser | undefined;
  before(async () => {
    stack = await startStack();
    const hostPort = (u: string): string => new URL(u).host;
    prom = await startPrometheus({
      'live-webrtc-api': [hostPort(stack.url)],
      'live-webrtc-sfu': [hostPort(stack.sfuUrl)],
      'live-webrtc-recorder': [hostPort(stack.recorderUrl)],
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await prom?.stop();
    await stack?.stop();
  });

  test('every panel of every dashboard returns data after a recording', async () => {
    const s = stack!;
    const p = prom!;
    const pub = await whipPublish(browser!.page, `${s.url}/api/whip/publish/dash`);
    assert.equal(pub.status, 201);
    const started = await json<{ id: string }>(`${s.url}/api/v1/rooms/dash/recordings`, 'POST');
    assert.equal(started.status, 201);
    const id = started.body.id;
    const status = async (): Promise<string> => (await json<{ status: string }>(`${s.url}/api/v1/recordings/${id}`)).body.status;
    await until('active', async () => ((await status()) === 'active' ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal((await json(`${s.url}/api/v1/recordings/${id}/stop`, 'POST')).status, 202);
    await until('ready', async () => ((await status()) === 'ready' ? true : undefined), 60_000);
    // The SFU's media counters are read from live producers at scrape time: keep the publisher
    // until a scrape has seen its packets (stop → ready can beat Prometheus's first scrape, and
    // a publisher gone before any scrape would leave the counter at 0: failed once in CI).
    await until(
      'a scrape while the publisher is live',
      async () => (Number((await p.query('sum(lw_sfu_rtp_packets_received_total{kind="video"})'))[0]?.value[1]) > 50 ? true : undefined),
      30_000,
    );
    await fetch(pub.location, { method: 'DELETE' }).catch(() => {});

    // Every service scraped, and the last scrapes (after the recording) stored.
    // Stop → ready can now beat Prometheus's first scrape: wait until every target has been tried.
    let targets = await p.targets();
    for (let i = 0; i < 60 && targets.some((t) => t.health === 'unknown'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      targets = await p.targets();
    }
    assert.deepEqual(targets.map((t) => `${t.job}:${t.health}`).sort(), [
      'live-webrtc-api:up',
      'live-webrtc-recorder:up',
      'live-webrtc-sfu:up',
    ]);
    await until(
      'a scrape after the recording',
      async () => ((await p.query('lw_storage_upload_bytes_total > 0')).length ? true : undefined),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 3000));

    const empty: string[] = [];
    let panels = 0;
    for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as { panels: Panel[] };
      for (const panel of d.panels) {
        for (const t of panel.targets) {
          panels++;
          const result = await p.query(grafanaExpr(t.expr));
          if (result.length === 0) empty.push(`${file} "${panel.title}": ${t.expr}`);
        }
      }
    }
    console.log(`# dashboards: ${panels} panel expressions evaluated, ${panels - empty.length} returned data`);
    assert.deepEqual(empty, [], 'panels without data');
    assert.ok(panels >= 40, `${panels} panels`);

    // A few values that must reflect what just happened, not merely exist.
    const whip = await p.query('sum(lw_http_request_duration_seconds_count{service="api",route="/api/whip/publish/:room",method="POST"})');
    assert.ok(Number(whip[0]?.value[1]) >= 1, 'the WHIP POST is counted under its route template');
    const ready = await p.query('max(lw_recordings{status="ready"})');
    assert.ok(Number(ready[0]?.value[1]) >= 1, 'one ready recording in the index');
    const rtp = await p.query('sum(lw_sfu_rtp_packets_received_total{kind="video"})');
    assert.ok(Number(rtp[0]?.value[1]) > 50, 'video RTP packets received from the publisher');
    const kf = await p.query('sum(lw_sfu_keyframe_requests_total)');
    assert.ok(Number(kf[0]?.value[1]) >= 1, 'the recording asked the publisher for a keyframe');
    // The raw output: a completed finalize job (segments joined), or made ready by the capture
    // from its continuous file (one run: the usual case).
    const queue = await p.query('max by (queue) (lw_queue_jobs{state="completed"})');
    const fast = await p.query('sum(lw_recorder_finalize_path_total{path="fast"})');
    assert.ok(
      queue.some((q) => q.metric['queue'] === 'finalize' && Number(q.value[1]) >= 1) || Number(fast[0]?.value[1]) >= 1,
      `a completed finalize job or a fast-path ready: ${JSON.stringify({ queue, fast })}`,
    );
  });
});

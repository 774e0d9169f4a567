// Pause and resume, end to end: Chromium publishing, a recording paused for a few seconds and
// resumed, then stopped; the raw output must last about the recorded time minus the pause, and
// the recording object must list the pause. Also the 409s for a pause/resume in the wrong state.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { ffprobe } from '../support/ffprobe.js';
import { startStack, type Stack } from '../support/stack.js';
import { startTogether } from '../support/together.js';

interface RecordingView {
  id: string;
  status: string;
  durationMs: number | null;
  outputs: { name: string; status: string; size: number | null }[];
  pauses: { at: string; resumedAt: string | null; offsetMs: number | null }[];
  transitions: { status: string; at: string }[];
}

async function api<T>(stack: Stack, method: string, path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.url}${path}`, { method });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

async function waitFor(stack: Stack, id: string, statuses: string[], timeoutMs: number): Promise<RecordingView> {
  const until = Date.now() + timeoutMs;
  let rec: RecordingView | undefined;
  while (Date.now() < until) {
    rec = (await api<RecordingView>(stack, 'GET', `/api/v1/recordings/${id}`)).body;
    if (statuses.includes(rec.status)) return rec;
    if (rec.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`recording ${id} did not reach ${statuses.join('/')}: ${JSON.stringify(rec)}\n${stack.logs.slice(-30).join('\n')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pause and resume', { timeout: 180_000 }, () => {
  let browser: Browser;
  let stack: Stack;
  before(async () => {
    // Both or neither: a browser started beside a stack that failed would keep the file alive.
    [browser, stack] = await startTogether(launchBrowser(), startStack());
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('a recording paused for N s lasts about the recorded time minus N, and lists the pause', async () => {
    const room = 'pause-e2e';
    const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/${room}`);
    assert.equal(pub.status, 201);
    const started = await api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`);
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.id;

    // Not active yet or active: resume is refused (only a paused recording resumes).
    const early = await api<{ error: { code: string } }>(stack, 'POST', `/api/v1/recordings/${id}/resume`);
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'invalid_state');

    await waitFor(stack, id, ['active'], 20_000);
    const activeAt = Date.now();
    await sleep(4000);

    const paused = await api<RecordingView>(stack, 'POST', `/api/v1/recordings/${id}/pause`);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const pausedAt = Date.now();
    assert.equal(paused.body.status, 'paused');
    assert.equal(paused.body.pauses.length, 1);
    assert.equal(paused.body.pauses[0]!.resumedAt, null);
    const again = await api<{ error: { code: string } }>(stack, 'POST', `/api/v1/recordings/${id}/pause`);
    assert.equal(again.status, 409, 'a paused recording cannot be paused again');
    assert.equal(again.body.error.code, 'invalid_state');

    const pauseMs = 4000;
    await sleep(pauseMs);
    const resumed = await api<RecordingView>(stack, 'POST', `/api/v1/recordings/${id}/resume`);
    const resumedAt = Date.now();
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.status, 'active');
    assert.ok(resumed.body.pauses[0]!.resumedAt, 'the pause has its resume time');

    await sleep(4000);
    const stopAt = Date.now();
    assert.equal((await api(stack, 'POST', `/api/v1/recordings/${id}/stop`)).status, 202);
    const ready = await waitFor(stack, id, ['ready'], 60_000);
    assert.deepEqual(
      ready.transitions.map((t) => t.status),
      ['starting', 'active', 'paused', 'active', 'stopping', 'processing', 'ready'],
    );
    assert.equal(ready.pauses.length, 1);
    const p = ready.pauses[0]!;
    const pausedSpan = Date.parse(p.resumedAt!) - Date.parse(p.at);

    const dl = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`);
    assert.equal(dl.status, 200);
    const dir = await mkdtemp(join(tmpdir(), 'lw-pause-'));
    try {
      const file = join(dir, 'raw.webm');
      await writeFile(file, Buffer.from(await dl.arrayBuffer()));
      const probe = await ffprobe(file);
      const fileMs = Number(probe.format.duration) * 1000;
      const wallMs = stopAt - activeAt;
      const expectedMs = wallMs - pausedSpan;
      const figures = {
        wallMs,
        pausedMs: pausedSpan,
        pauseRequestMs: resumedAt - pausedAt,
        expectedMs,
        fileMs: Math.round(fileMs),
        diffMs: Math.round(fileMs - expectedMs),
        durationMs: ready.durationMs,
        offsetMs: p.offsetMs,
      };
      console.log(`# pause figures ${JSON.stringify(figures)}`);
      // Without the cut the file would last wallMs (≈ expected + 4 s): a 1 s tolerance tells them apart.
      assert.ok(Math.abs(fileMs - expectedMs) <= 1000, `file lasts ${fileMs} ms, expected ${expectedMs} ms`);
      assert.ok(p.offsetMs !== null && Math.abs(p.offsetMs - (pausedAt - activeAt)) <= 1000, `cut at ${p.offsetMs} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
    }
  });
});

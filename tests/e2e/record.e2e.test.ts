// End to end, as a user: the whole stack started by the launcher, headless Chromium publishing
// its fake camera and microphone over WHIP, a recording started and stopped over the REST API,
// the raw output downloaded through the API and checked with ffprobe. Once with local storage,
// once with a real S3 server (Ceph radosgw).
import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { startCephS3, type S3Server } from '../support/ceph-s3.js';
import { ffprobe, firstVideoPacketIsKey } from '../support/ffprobe.js';
import { startStack, type Stack } from '../support/stack.js';

interface RecordingView {
  id: string;
  status: string;
  durationMs: number | null;
  error: { code: string; message: string } | null;
  outputs: { name: string; status: string; size: number | null }[];
  tracks: { kind: string; codec: string }[];
}

async function api<T>(stack: Stack, method: string, path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.url}${path}`, { method });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

async function waitFor(
  stack: Stack,
  id: string,
  statuses: string[],
  timeoutMs: number,
  pollMs = 50,
): Promise<{ rec: RecordingView; at: number }> {
  const until = Date.now() + timeoutMs;
  let rec: RecordingView | undefined;
  while (Date.now() < until) {
    rec = (await api<RecordingView>(stack, 'GET', `/api/v1/recordings/${id}`)).body;
    if (statuses.includes(rec.status)) return { rec, at: Date.now() };
    if (rec.status === 'failed') break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`recording ${id} did not reach ${statuses.join('/')}: ${JSON.stringify(rec)}\n${stack.logs.slice(-30).join('\n')}`);
}

/** Publishes for ~5 s while recording; returns the measured figures after checking the file. */
async function recordAndCheck(stack: Stack, browser: Browser, room: string) {
  const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/${room}`);
  assert.equal(pub.status, 201, 'WHIP publish answered 201');

  const rooms = await api<{ rooms: { name: string; publishers: number }[] }>(stack, 'GET', '/api/v1/rooms');
  assert.equal(rooms.body.rooms.find((r) => r.name === room)?.publishers, 1, 'room listed with one publisher');

  const started = await api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const id = started.body.id;
  const dup = await api<{ error: { code: string } }>(stack, 'POST', `/api/v1/rooms/${room}/recordings`);
  assert.equal(dup.status, 409, 'a second recording of the same room is refused');

  const active = await waitFor(stack, id, ['active'], 20_000);
  await new Promise((r) => setTimeout(r, 5000));
  const stopAt = Date.now();
  const stopped = await api<RecordingView>(stack, 'POST', `/api/v1/recordings/${id}/stop`);
  assert.equal(stopped.status, 202);
  const ready = await waitFor(stack, id, ['ready'], 60_000, 25);
  const wallMs = stopAt - active.at;
  const stopToReadyMs = ready.at - stopAt;

  const raw = ready.rec.outputs.find((o) => o.name === 'raw');
  assert.equal(raw?.status, 'ready');
  assert.deepEqual(ready.rec.tracks.map((t) => `${t.kind}/${t.codec}`).sort(), ['audio/opus', 'video/vp8']);

  const dl = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`);
  assert.equal(dl.status, 200);
  const bytes = Buffer.from(await dl.arrayBuffer());
  assert.equal(bytes.length, raw?.size);
  const dir = await mkdtemp(join(tmpdir(), 'lw-e2e-'));
  try {
    const file = join(dir, 'raw.webm');
    await writeFile(file, bytes);
    const probe = await ffprobe(file);
    const codecs = probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort();
    assert.deepEqual(codecs, ['audio/opus', 'video/vp8']);
    const durationMs = Number(probe.format.duration) * 1000;
    assert.ok(Math.abs(durationMs - wallMs) <= 500, `file lasts ${durationMs} ms, recording ran ${wallMs} ms`);
    assert.ok(await firstVideoPacketIsKey(file), 'first video frame is a keyframe');

    const ranged = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`, { headers: { Range: 'bytes=0-99' } });
    assert.equal(ranged.status, 206);
    assert.equal((await ranged.arrayBuffer()).byteLength, 100);

    const figures = {
      room,
      fileMs: Math.round(durationMs),
      wallMs,
      diffMs: Math.round(durationMs - wallMs),
      stopToReadyMs,
      bytes: bytes.length,
    };
    console.log(`# e2e figures ${JSON.stringify(figures)}`);

    const del = await fetch(`${stack.url}/api/v1/recordings/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await api(stack, 'GET', `/api/v1/recordings/${id}`)).status, 404);
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
  }
}

describe('recording a browser publisher end to end', { timeout: 240_000 }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('with local storage: VP8 + Opus WebM whose duration matches the recording', async () => {
    const stack = await startStack();
    try {
      await recordAndCheck(stack, browser, 'e2e-local');
    } finally {
      await stack.stop();
    }
  });

  test('with RECORD_ENABLED=1 a room is recorded from its first publisher until it empties', async () => {
    const stack = await startStack({ RECORD_ENABLED: '1', RECORD_REJOIN_GRACE_SECONDS: '2' });
    const dir = await mkdtemp(join(tmpdir(), 'lw-e2e-auto-'));
    try {
      const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/e2e-auto`);
      assert.equal(pub.status, 201);
      let id: string | undefined;
      const until = Date.now() + 10_000;
      while (!id && Date.now() < until) {
        const list = await api<{ items: (RecordingView & { trigger: string })[] }>(stack, 'GET', '/api/v1/recordings?room=e2e-auto');
        id = list.body.items.find((r) => r.trigger === 'auto')?.id;
        if (!id) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(id, 'publishing started a recording by itself');
      const active = await waitFor(stack, id, ['active'], 20_000);
      await new Promise((r) => setTimeout(r, 3000));
      // The publisher leaves (WHIP DELETE): the room empties and the recording ends by itself.
      const leftAt = Date.now();
      assert.equal((await fetch(pub.location, { method: 'DELETE' })).status, 200);
      await browser.page.evaluate(() => (window as unknown as { __pub?: RTCPeerConnection }).__pub?.close());
      const ready = await waitFor(stack, id, ['ready'], 60_000, 25);
      const wallMs = leftAt - active.at;
      const file = join(dir, 'raw.webm');
      await writeFile(file, Buffer.from(await (await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`)).arrayBuffer()));
      const probe = await ffprobe(file);
      assert.deepEqual(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), ['audio/opus', 'video/vp8']);
      const fileMs = Number(probe.format.duration) * 1000;
      assert.ok(Math.abs(fileMs - wallMs) <= 500, `file lasts ${fileMs} ms, the publisher was recorded for ${wallMs} ms`);
      console.log(
        `# e2e figures ${JSON.stringify({ room: 'e2e-auto', fileMs: Math.round(fileMs), wallMs, leaveToReadyMs: ready.at - leftAt })}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
      await stack.stop();
    }
  });

  test('with S3 storage (Ceph radosgw): the same, read back through the API', async () => {
    let s3: S3Server | undefined;
    let stack: Stack | undefined;
    try {
      s3 = await startCephS3();
      const u = new URL(s3.endpoint);
      stack = await startStack({
        S3_ENDPOINT: u.host,
        S3_USE_SSL: '0',
        S3_PATH_STYLE: '1',
        S3_REGION: s3.region,
        S3_BUCKET: 'e2e-recordings',
        S3_ACCESS_KEY: s3.accessKey,
        S3_SECRET_KEY: s3.secretKey,
      });
      await recordAndCheck(stack, browser, 'e2e-s3');
    } finally {
      await stack?.stop();
      await s3?.stop();
    }
  });
});

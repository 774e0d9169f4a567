// End to end, as a user: the whole stack started by the launcher, Chromium publishing over
// WHIP, a recording started over the REST API with its own outputs and webhook URL, stopped,
// and the MP4 and poster appearing by themselves: downloaded through the API and checked with
// ffprobe against the raw file, while a webhook receiver on loopback checks the signed events.
// E2E_TRANSCODE_SECONDS (default 5) sets how long it records, E2E_TRANSCODE_SIZE (e.g. 1280x720;
// default the helper's 640x360) the camera size, E2E_TRANSCODE_OUTPUTS (default mp4,poster,hls)
// the outputs asked for, E2E_TRANSCODE_CODEC (VP8 or H264; default the browser's choice) the
// publisher's video codec (the stack inherits the environment: TRANSCODE_MP4_AUDIO=opus works
// too): the README's 60 s 720p figures are
//   E2E_TRANSCODE_SECONDS=60 E2E_TRANSCODE_SIZE=1280x720 E2E_TRANSCODE_OUTPUTS=mp4,poster,hls,sprite,audio
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchBrowser, whipPublish } from '../support/browser.js';
import { ffprobe } from '../support/ffprobe.js';
import { startStack } from '../support/stack.js';

interface Output {
  name: string;
  status: string;
  progress: number;
  size: number | null;
  error: { code: string } | null;
}
interface RecordingView {
  id: string;
  status: string;
  stoppedAt: string | null;
  outputs: Output[];
}

const SECRET = 'e2e-webhook-secret';

/** The README's verification recipe, written independently of the product's code. */
function verify(timestamp: string | undefined, signature: string | undefined, body: string): boolean {
  if (!timestamp || !signature || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`v1=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`);
  const got = Buffer.from(signature);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
const SECONDS = Number(process.env['E2E_TRANSCODE_SECONDS'] ?? 5);
const CODEC = process.env['E2E_TRANSCODE_CODEC'] as 'VP8' | 'H264' | undefined;
const SIZE = /^(\d+)x(\d+)$/.exec(process.env['E2E_TRANSCODE_SIZE'] ?? '');
const OUTPUTS = (process.env['E2E_TRANSCODE_OUTPUTS'] ?? 'mp4,poster,hls').split(',').map((s) => s.trim());
for (const required of ['mp4', 'poster', 'hls']) if (!OUTPUTS.includes(required)) OUTPUTS.push(required);

test('a recording gets its MP4 and poster by itself, announced by signed webhooks', { timeout: 240_000 + SECONDS * 15_000 }, async (t) => {
  const events: { type: string; output?: string; ok: boolean; at: number }[] = [];
  const rx = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ok = verify(
        req.headers['x-webhook-timestamp'] as string | undefined,
        req.headers['x-webhook-signature'] as string | undefined,
        body,
      );
      const ev = JSON.parse(body) as { type: string; output?: string };
      events.push({ type: ev.type, ...(ev.output ? { output: ev.output } : {}), ok, at: Date.now() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => rx.close(() => r())));
  const hook = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;

  const stack = await startStack({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_PRIVATE: '1' });
  t.after(() => stack.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const dir = await mkdtemp(join(tmpdir(), 'lw-e2e-transcode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const room = 'transcode-e2e';
  const pub = await whipPublish(
    browser.page,
    `${stack.url}/api/whip/publish/${room}`,
    undefined,
    CODEC,
    SIZE ? { width: Number(SIZE[1]), height: Number(SIZE[2]) } : undefined,
  );
  assert.equal(pub.status, 201);
  const started = await fetch(`${stack.url}/api/v1/rooms/${room}/recordings`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ outputs: OUTPUTS, webhookUrls: [hook] }),
  });
  assert.equal(started.status, 201, await started.clone().text());
  const { id } = (await started.json()) as { id: string };
  const get = async (): Promise<RecordingView> => (await (await fetch(`${stack.url}/api/v1/recordings/${id}`)).json()) as RecordingView;
  for (let i = 0; i < 400 && (await get()).status !== 'active'; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const stopAt = Date.now();
  assert.equal((await fetch(`${stack.url}/api/v1/recordings/${id}/stop`, { method: 'POST' })).status, 202);

  // Poll until both outputs finish; note when each became ready and whether progress showed.
  const readyAt: Record<string, number> = {};
  let sawProgress = false;
  let rec = await get();
  const until = Date.now() + 120_000 + SECONDS * 10_000;
  while (Date.now() < until) {
    rec = await get();
    if (rec.status === 'ready' && readyAt['raw'] === undefined) readyAt['raw'] = Date.now() - stopAt;
    for (const o of rec.outputs) {
      if (o.status === 'processing' && o.progress > 0) sawProgress = true;
      if (o.status === 'ready' && readyAt[o.name] === undefined) readyAt[o.name] = Date.now() - stopAt;
    }
    const outs = rec.outputs.filter((o) => o.name !== 'raw');
    if (rec.status === 'failed' || (outs.length === OUTPUTS.length && outs.every((o) => o.status === 'ready' || o.status === 'failed')))
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // The timings first, so a run that misses an output still reports the others.
  console.log(
    `# e2e transcode stop → ready ${JSON.stringify({ seconds: SECONDS, stopToReadyMs: readyAt, load: loadavg().map((l) => Math.round(l * 10) / 10) })}`,
  );
  assert.equal(rec.status, 'ready', JSON.stringify(rec));
  for (const name of OUTPUTS) {
    const o = rec.outputs.find((x) => x.name === name);
    assert.equal(o?.status, 'ready', `${name}: ${JSON.stringify(o)}\n${stack.logs.slice(-20).join('\n')}`);
  }
  assert.deepEqual(rec.outputs.map((o) => o.name).sort(), [...OUTPUTS, 'raw'].sort(), 'the outputs the start request asked for');

  const save = async (name: string, file: string): Promise<string> => {
    const res = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/${name}`);
    assert.equal(res.status, 200);
    const path = join(dir, file);
    await writeFile(path, Buffer.from(await res.arrayBuffer()));
    return path;
  };
  const raw = await ffprobe(await save('raw', 'raw.webm'));
  const mp4 = await ffprobe(await save('mp4', 'out.mp4'));
  // AAC unless the stack was started with TRANSCODE_MP4_AUDIO=opus (inherited from this process's environment).
  const mp4Audio = process.env['TRANSCODE_MP4_AUDIO'] === 'opus' ? 'audio/opus' : 'audio/aac';
  assert.deepEqual(mp4.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), [mp4Audio, 'video/h264']);
  const rawV = raw.streams.find((s) => s.codec_type === 'video')!;
  const mp4V = mp4.streams.find((s) => s.codec_type === 'video')!;
  assert.equal(`${mp4V.width}x${mp4V.height}`, `${rawV.width}x${rawV.height}`);
  const diff = Math.abs(Number(mp4.format.duration) - Number(raw.format.duration));
  assert.ok(diff <= 0.2, `mp4 ${mp4.format.duration} s vs raw ${raw.format.duration} s`);
  const poster = await ffprobe(await save('poster', 'poster.jpg'));
  assert.equal(poster.streams[0]?.codec_name, 'mjpeg');

  // Webhooks: every lifecycle event once, signed, in order; output events after recording.ready.
  const deadline = Date.now() + 15_000;
  while (events.length < 4 + OUTPUTS.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 4), ['recording.started', 'recording.active', 'recording.stopped', 'recording.ready'], types.join(','));
  assert.deepEqual(
    events
      .slice(4)
      .map((e) => `${e.type}:${e.output}`)
      .sort(),
    OUTPUTS.map((o) => `output.ready:${o}`).sort(),
  );
  assert.ok(
    events.every((e) => e.ok),
    'every delivery signed with WEBHOOK_SECRET',
  );

  // The page: the recording's outputs listed with the poster, the MP4 and the HLS (hls.js) play in it.
  // (The web app's views: the library card shows the poster; the detail view plays each output.)
  const page = browser.page;
  await page.goto(`${stack.url}/#/recordings?room=${room}`);
  await page.waitForSelector(`#recordings li.card[data-id="${id}"] img`, { timeout: 15_000 });
  await page.goto(`${stack.url}/#/recordings/${id}`);
  await page.waitForSelector('button[data-source="mp4"]', { timeout: 15_000 });
  const played = async (name: string): Promise<{ time: number; width: number }> => {
    await page.click(`button[data-source="${name}"]`);
    await page.waitForFunction(
      (source) => {
        const v = document.querySelector<HTMLVideoElement>('#player');
        return document.querySelector(`.player[data-source="${source}"]`) !== null && !!v && v.currentTime > 0.5 && v.videoWidth > 0;
      },
      name,
      { timeout: 20_000 },
    );
    return page.evaluate(() => {
      const v = document.querySelector<HTMLVideoElement>('#player')!;
      return { time: v.currentTime, width: v.videoWidth };
    });
  };
  const mp4Play = await played('mp4');
  assert.equal(mp4Play.width, mp4V.width, 'the MP4 plays in the page');
  const hlsPlay = await played('hls');
  assert.ok(hlsPlay.width > 0, 'the HLS plays in the page (hls.js)');

  const mp4Budget = 1000 + (SECONDS * 1000) / 8;
  console.log(
    `# e2e transcode figures ${JSON.stringify({
      seconds: SECONDS,
      rawVideo: `${rawV.codec_name} ${rawV.width}x${rawV.height}`,
      rawSeconds: Number(raw.format.duration),
      stopToReadyMs: readyAt,
      mp4BudgetMs: mp4Budget,
      sawProgress,
      sizes: Object.fromEntries(rec.outputs.map((o) => [o.name, o.size])),
      load: loadavg().map((l) => Math.round(l * 10) / 10),
    })}`,
  );
  await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
});

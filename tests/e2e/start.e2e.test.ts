// Start latency (issue 7, item 3): the start request answers once the recording is capturing,
// so nothing said after the answer is missing from the file. Chromium publishes the flash/beep
// clip (a flash at the start of every second); the recording started through the API must answer
// `active` with a first frame no later than the answer, and the file must hold the first flash
// that came after the answer (the flashes are placed on the wall clock by the publisher's own
// MediaRecorder copy, and the file by its end, which is the stop request). Also: `Prefer:
// respond-async` answers `starting` at once, and a room whose publisher sends no media answers
// `starting` once RECORDING_START_WAIT_MS (or the client's `Prefer: wait=N`) has passed, not an
// error and not a hang.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { analyzeFlashBeep, makeFlashBeepClip, startReferenceRecording, stopReferenceRecording } from '../support/flashbeep.js';
import { streamStartTimes } from '../support/ffprobe.js';
import { startStack, type Stack } from '../support/stack.js';
import { startTogether } from '../support/together.js';

const run = promisify(execFile);

/** The stack's bound on the wait (set explicitly: the default, 3000, is what is tested). */
const START_WAIT_MS = 3000;
/**
 * How long after the answer a flash may be missing from the file, ms. A flash captured just
 * before the answer reaches the recorder one capture-to-recorder latency later (encode, pacing,
 * loopback: tens of ms), and the flashes' wall-clock times come from the publisher's
 * MediaRecorder copy, whose timeline starts within a frame (33 ms) of the call that started it.
 */
const FLASH_TOLERANCE_MS = 100;
/** A file flash placed (by the file's end) farther than this from every reference flash: no alignment. */
const MAX_ALIGN_ERROR_MS = 400;
/** Clip length: longer than the test's publishing, so Chromium's loop (it slips a frame) never falls inside. */
const CLIP_S = 40;

interface RecordingView {
  id: string;
  status: string;
  firstFrameAt: string | null;
  error: { code: string } | null;
}

async function api<T>(stack: Stack, method: string, path: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${stack.url}${path}`, { method, headers });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: (text ? JSON.parse(text) : null) as T };
}

async function waitForStatus(stack: Stack, id: string, statuses: string[], timeoutMs: number): Promise<RecordingView> {
  const until = Date.now() + timeoutMs;
  let rec: RecordingView | undefined;
  while (Date.now() < until) {
    rec = (await api<RecordingView>(stack, 'GET', `/api/v1/recordings/${id}`)).body;
    if (statuses.includes(rec.status)) return rec;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`recording ${id} did not reach ${statuses.join('/')}: ${JSON.stringify(rec)}\n${stack.logs.slice(-30).join('\n')}`);
}

/** End of the last video frame in `file`, on the file's own timeline (s). */
async function videoEnd(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,duration_time',
    '-of',
    'csv=p=0',
    file,
  ]);
  let end = -Infinity;
  for (const line of stdout.trim().split('\n')) {
    const [pts, dur] = line.split(',').map(Number);
    if (Number.isFinite(pts)) end = Math.max(end, pts! + (Number.isFinite(dur) ? dur! : 0));
  }
  return end;
}

/** Stops sending media on the page's publisher (the producers stay): no RTP reaches the SFU. */
async function silencePublisher(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const pc = (window as unknown as { __pub: RTCPeerConnection }).__pub;
    await Promise.all(pc.getSenders().map((s) => s.replaceTrack(null)));
  });
}

describe('start latency: the start request answers once the file has begun', { timeout: 180_000 }, () => {
  let dir: string;
  let publisher: Browser;
  let stack: Stack;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lw-start-'));
    const clip = await makeFlashBeepClip(dir, { seconds: CLIP_S, width: 160, height: 90 });
    [publisher, stack] = await startTogether(
      launchBrowser({ fakeVideo: clip.y4m, fakeAudio: clip.wav }),
      startStack({ RECORDING_START_WAIT_MS: String(START_WAIT_MS) }),
    );
  });
  after(async () => {
    await Promise.all([publisher?.close(), stack?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('201 says `active`; the first frame and the first flash after the answer are in the file', async () => {
    const room = 'e2e-start';
    const pub = await whipPublish(publisher.page, `${stack.url}/api/whip/publish/${room}`);
    assert.equal(pub.status, 201, 'WHIP publish answered 201');
    await startReferenceRecording(publisher.page, '__pub', 'opus');
    const refStartAt = Date.now();
    // The reference must hold a few flashes before the start.
    await new Promise((r) => setTimeout(r, 1500));

    const requestAt = Date.now();
    const started = await api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`);
    const responseAt = Date.now();
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.headers.get('preference-applied'), null);
    const rec = started.body;
    assert.equal(rec.status, 'active', `the answer waited for the first frame: ${JSON.stringify(rec)}`);
    assert.ok(rec.firstFrameAt !== null);
    const firstFrameAt = Date.parse(rec.firstFrameAt);
    // One clock (every service runs on this host) and a causal chain (frame seen → status written
    // → API reads it → answer): no tolerance is needed. firstFrameAt is when ffmpeg reported a
    // decodable frame, so the file's first packet is earlier still.
    assert.ok(firstFrameAt <= responseAt, `first frame at ${rec.firstFrameAt}, answered at ${new Date(responseAt).toISOString()}`);
    assert.ok(firstFrameAt >= requestAt, 'the first frame is this recording’s, after the request');

    await new Promise((r) => setTimeout(r, 4000));
    const stopAt = Date.now();
    assert.equal((await api(stack, 'POST', `/api/v1/recordings/${rec.id}/stop`)).status, 202);
    const reference = await stopReferenceRecording(publisher.page, 'opus');
    await waitForStatus(stack, rec.id, ['ready'], 60_000);
    const dl = await fetch(`${stack.url}/api/v1/recordings/${rec.id}/outputs/raw`);
    assert.equal(dl.status, 200);
    const files = { recording: join(dir, 'recording.webm'), reference: join(dir, 'reference.webm') };
    await writeFile(files.recording, Buffer.from(await dl.arrayBuffer()));
    await writeFile(files.reference, reference);
    await fetch(pub.location, { method: 'DELETE' }).catch(() => {});

    const [inFile, inRef, end, starts] = await Promise.all([
      analyzeFlashBeep(files.recording),
      analyzeFlashBeep(files.reference),
      videoEnd(files.recording),
      streamStartTimes(files.recording),
    ]);
    // Flashes on the wall clock: the reference's timeline starts when it was started.
    const refFlashes = inRef.flashes.map((t) => refStartAt + t * 1000);
    assert.ok(inFile.flashes.length >= 3, `the file shows the clip's flashes: ${JSON.stringify(inFile.flashes)}`);
    // The file on the wall clock: it ends at the stop request (the stop path and the media's
    // latency are tens of ms either way, far less than the second between flashes).
    const firstFlashAt = stopAt - (end - inFile.flashes[0]!) * 1000;
    const nearest = refFlashes.reduce(
      (best, f, i) => (Math.abs(f - firstFlashAt) < Math.abs(refFlashes[best]! - firstFlashAt) ? i : best),
      0,
    );
    const alignErrorMs = Math.round(firstFlashAt - refFlashes[nearest]!);
    const firstAfterAnswer = refFlashes.findIndex((f) => f >= responseAt + FLASH_TOLERANCE_MS);
    const figures = {
      requestToAnswerMs: responseAt - requestAt,
      firstFrameBeforeAnswerMs: responseAt - firstFrameAt,
      fileFlashes: inFile.flashes.length,
      firstFileFlashVsAnswerMs: Math.round(refFlashes[nearest]! - responseAt),
      alignErrorMs,
      // Negative: the file's audio begins before its video (audio is not held back for video).
      audioStartVsVideoMs: Math.round((starts.audio - starts.video) * 1000),
    };
    console.log(`# start figures ${JSON.stringify(figures)}`);
    assert.ok(Math.abs(alignErrorMs) <= MAX_ALIGN_ERROR_MS, `the file's flashes line up with the reference's: ${JSON.stringify(figures)}`);
    assert.ok(firstAfterAnswer >= 0, 'the reference shows a flash after the answer');
    assert.ok(
      nearest <= firstAfterAnswer,
      `the first flash in the file is the one after the answer or an earlier one: ${JSON.stringify(figures)}`,
    );
  });

  test('`Prefer: respond-async` answers `starting` at once', async () => {
    const room = 'e2e-start-async';
    const page = await publisher.context.newPage();
    try {
      const pub = await whipPublish(page, `${stack.url}/api/whip/publish/${room}`);
      assert.equal(pub.status, 201);
      const started = await api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`, { Prefer: 'respond-async' });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.body.status, 'starting');
      assert.equal(started.body.firstFrameAt, null);
      assert.equal(started.headers.get('preference-applied'), 'respond-async');
      // It still starts: the answer only came sooner.
      await waitForStatus(stack, started.body.id, ['active'], 20_000);
      assert.equal((await api(stack, 'POST', `/api/v1/recordings/${started.body.id}/stop`)).status, 202);
      await waitForStatus(stack, started.body.id, ['ready'], 60_000);
      await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
    } finally {
      await page.close();
    }
  });

  test('a publisher that sends no media: `starting` once RECORDING_START_WAIT_MS has passed', async () => {
    const room = 'e2e-start-silent';
    const page = await publisher.context.newPage();
    try {
      const pub = await whipPublish(page, `${stack.url}/api/whip/publish/${room}`);
      assert.equal(pub.status, 201);
      await silencePublisher(page);
      await new Promise((r) => setTimeout(r, 500)); // packets already sent have gone by
      const t0 = Date.now();
      const started = await api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`);
      const tookMs = Date.now() - t0;
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.body.status, 'starting', 'no frame: still starting, not an error');
      // Margin: the SFU's part of the start before the wait (tens of ms) and one status re-read.
      assert.ok(tookMs >= START_WAIT_MS && tookMs < START_WAIT_MS + 2000, `answered after the bound (${tookMs} ms)`);
      console.log(`# start without media answered in ${tookMs} ms`);
      assert.equal((await api(stack, 'POST', `/api/v1/recordings/${started.body.id}/stop`)).status, 202);
      const ended = await waitForStatus(stack, started.body.id, ['failed', 'ready'], 30_000);
      assert.equal(ended.status, 'failed');
      assert.equal(ended.error?.code, 'no_media');

      // The client's own, shorter bound (RFC 7240 `wait`). A 409 is retried: the SFU lets go
      // of the room's last recording when it hears `capture-ended`, just after `failed`.
      const startWaitingOneSecond = () => api<RecordingView>(stack, 'POST', `/api/v1/rooms/${room}/recordings`, { Prefer: 'wait=1' });
      let t1 = Date.now();
      let again = await startWaitingOneSecond();
      for (const until = Date.now() + 10_000; again.status === 409 && Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 100));
        t1 = Date.now();
        again = await startWaitingOneSecond();
      }
      const againMs = Date.now() - t1;
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.body.status, 'starting');
      assert.equal(again.headers.get('preference-applied'), 'wait=1');
      assert.ok(againMs >= 1000 && againMs < START_WAIT_MS, `answered after the client's 1 s (${againMs} ms)`);
      assert.equal((await api(stack, 'POST', `/api/v1/recordings/${again.body.id}/stop`)).status, 202);
      await waitForStatus(stack, again.body.id, ['failed', 'ready'], 30_000);
      await fetch(pub.location, { method: 'DELETE' }).catch(() => {});
    } finally {
      await page.close();
    }
  });
});

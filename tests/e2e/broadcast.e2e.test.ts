// Broadcasting as users do it: headless Chromium publishes its fake camera and microphone over
// WHIP, other Chromium pages watch over WHEP through the product's one origin, and their
// decoders' counters (getStats framesDecoded) prove that video really arrives. Also: a publisher
// who leaves and returns, and two instances sharing one Redis — a viewer sent to the wrong one
// is redirected and plays, and a killed instance's room is freed for the other.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, viewerStats, whepPlay, whipPublish, type Browser } from '../support/browser.js';
import { ffprobe, firstVideoPacketIsKey } from '../support/ffprobe.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startTogether } from '../support/together.js';
import { startStack, type Stack } from '../support/stack.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the viewer on `page` has decoded `more` frames beyond `from`; returns the count. */
async function decodes(page: Page, more: number, from = 0, timeoutMs = 15_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let last = await viewerStats(page);
  while (Date.now() < until) {
    if (last.framesDecoded >= from + more && last.audioPackets > 0) return last.framesDecoded;
    await sleep(250);
    last = await viewerStats(page);
  }
  assert.fail(
    `viewer decoded ${last.framesDecoded - from} new frames (wanted ${more}); state ${last.state}, audio packets ${last.audioPackets}`,
  );
}

/** Ends the page's publisher: DELETE on its session URL (as a WHIP client leaving does), then close. */
async function unpublish(page: Page, location: string): Promise<number> {
  const status = (await fetch(location, { method: 'DELETE' })).status;
  await page.evaluate(() => (window as unknown as { __pub?: RTCPeerConnection }).__pub?.close());
  return status;
}

async function roomsOf(stack: Stack): Promise<{ name: string; publishers: number; subscribers: number; instance: string }[]> {
  const r = await fetch(`${stack.url}/api/v1/rooms`);
  return ((await r.json()) as { rooms: { name: string; publishers: number; subscribers: number; instance: string }[] }).rooms;
}

describe('broadcasting with Chromium over WHIP and WHEP', { timeout: 180_000 }, () => {
  let browser: Browser;
  let stack: Stack;
  before(async () => {
    // A short session timeout, so a viewer whose tab closes is seen to go within the test.
    [browser, stack] = await startTogether(launchBrowser(), startStack({ SESSION_TIMEOUT_SECONDS: '3' }));
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('two viewers decode the publisher; DELETE ends one viewer and the room counts follow', async () => {
    const pubPage = browser.page;
    const pub = await whipPublish(pubPage, `${stack.url}/api/whip/publish/bcast`);
    assert.equal(pub.status, 201);
    const viewers = [await browser.context.newPage(), await browser.context.newPage()];
    const t0 = Date.now();
    const sessions = [];
    for (const v of viewers) {
      const s = await whepPlay(v, `${stack.url}/api/whep/play/bcast`);
      assert.equal(s.status, 201);
      sessions.push(s);
    }
    for (const v of viewers) await decodes(v, 30);
    console.log(`# e2e figures ${JSON.stringify({ viewersDecoding30FramesMs: Date.now() - t0 })}`);
    const room = (await roomsOf(stack)).find((r) => r.name === 'bcast');
    assert.deepEqual({ publishers: room?.publishers, subscribers: room?.subscribers }, { publishers: 1, subscribers: 2 });

    assert.equal((await fetch(sessions[0]!.location, { method: 'DELETE' })).status, 200);
    assert.equal((await fetch(sessions[0]!.location, { method: 'DELETE' })).status, 404, 'a deleted session is gone');
    const before = (await viewerStats(viewers[1]!)).framesDecoded;
    await decodes(viewers[1]!, 20, before);
    const after = (await roomsOf(stack)).find((r) => r.name === 'bcast');
    assert.equal(after?.subscribers, 1);

    assert.equal(await unpublish(pubPage, pub.location), 200);
    // The other viewer's tab just closes (no DELETE): the server notices its silence.
    const closedAt = Date.now();
    for (const v of viewers) await v.close();
    const until = Date.now() + 20_000;
    while ((await roomsOf(stack)).some((r) => r.name === 'bcast') && Date.now() < until) await sleep(100);
    assert.ok(!(await roomsOf(stack)).some((r) => r.name === 'bcast'), 'the room is gone once its last client went away');
    console.log(`# e2e figures ${JSON.stringify({ closedTabRoomGoneMs: Date.now() - closedAt, sessionTimeoutS: 3 })}`);
  });

  test('a publisher who leaves and comes back is watched again by the viewers who stayed', async () => {
    const pubPage = browser.page;
    const viewer = await browser.context.newPage();
    try {
      const first = await whipPublish(pubPage, `${stack.url}/api/whip/publish/comeback`);
      assert.equal(first.status, 201);
      assert.equal((await whepPlay(viewer, `${stack.url}/api/whep/play/comeback`)).status, 201);
      const n1 = await decodes(viewer, 20);
      assert.equal(await unpublish(pubPage, first.location), 200);
      await sleep(1000);
      const paused = (await viewerStats(viewer)).framesDecoded;
      assert.ok(paused - n1 < 40, 'no frames to decode while nobody publishes');
      const second = await whipPublish(pubPage, `${stack.url}/api/whip/publish/comeback`);
      assert.equal(second.status, 201);
      const t0 = Date.now();
      await decodes(viewer, 20, paused);
      console.log(`# e2e figures ${JSON.stringify({ republishToViewerFramesMs: Date.now() - t0 })}`);
      assert.equal((await viewerStats(viewer)).state, 'connected', 'the viewer never reconnected');
      await unpublish(pubPage, second.location);
    } finally {
      await viewer.close();
    }
  });
});

describe('codecs beyond VP8', { timeout: 180_000 }, () => {
  let browser: Browser;
  let stack: Stack;
  before(async () => {
    [browser, stack] = await startTogether(launchBrowser(), startStack());
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  for (const [codec, probeName, container] of [
    ['VP9', 'vp9', 'video/webm'],
    ['H264', 'h264', 'video/x-matroska'],
  ] as const) {
    test(`a ${codec} publisher is watched and recorded in ${codec}`, async () => {
      const room = `codec-${codec.toLowerCase()}`;
      const pub = await whipPublish(browser.page, `${stack.url}/api/whip/publish/${room}`, undefined, codec);
      assert.equal(pub.status, 201);
      const viewer = await browser.context.newPage();
      const dir = await mkdtemp(join(tmpdir(), 'lw-codec-'));
      try {
        assert.equal((await whepPlay(viewer, `${stack.url}/api/whep/play/${room}`)).status, 201);
        await decodes(viewer, 20);
        const started = await fetch(`${stack.url}/api/v1/rooms/${room}/recordings`, { method: 'POST' });
        assert.equal(started.status, 201);
        const { id } = (await started.json()) as { id: string };
        const rec = async () => (await (await fetch(`${stack.url}/api/v1/recordings/${id}`)).json()) as RecordingBody;
        await until(async () => (await rec()).status === 'active', 20_000, 'active');
        await sleep(2000);
        assert.equal((await fetch(`${stack.url}/api/v1/recordings/${id}/stop`, { method: 'POST' })).status, 202);
        await until(async () => (await rec()).status === 'ready', 30_000, 'ready');
        const body = await rec();
        assert.deepEqual(body.tracks.map((t) => `${t.kind}/${t.codec}`).sort(), ['audio/opus', `video/${probeName}`]);
        const raw = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`);
        assert.equal(raw.headers.get('content-type'), container, 'VP8/VP9 + Opus go to WebM, H.264 to Matroska');
        const file = join(dir, 'raw');
        await writeFile(file, Buffer.from(await raw.arrayBuffer()));
        const probe = await ffprobe(file);
        assert.deepEqual(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), ['audio/opus', `video/${probeName}`]);
        assert.ok(await firstVideoPacketIsKey(file), 'the recording starts on a keyframe');
      } finally {
        await unpublish(browser.page, pub.location);
        await viewer.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

interface RecordingBody {
  status: string;
  tracks: { kind: string; codec: string }[];
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('two instances on one Redis', { timeout: 180_000 }, () => {
  let browser: Browser;
  let redis: RedisServer;
  let a: Stack | undefined;
  let b: Stack | undefined;
  before(async () => {
    [browser, redis] = await startTogether(launchBrowser(), startRedis());
  });
  after(async () => {
    await browser?.close();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  test('a viewer sent to B is redirected to A and plays; when A dies its room is freed for B', async () => {
    // The instances' origins differ (ports): each must allow the other's (CORS_ORIGINS) for the
    // browser to follow a redirect.
    const prefix = { REDIS_URL: redis.url, REDIS_PREFIX: `two${process.pid}`, CORS_ORIGINS: 'http://127.0.0.1:*' };
    [a, b] = await startTogether(startStack({ ...prefix, INSTANCE_ID: 'inst-a' }), startStack({ ...prefix, INSTANCE_ID: 'inst-b' }));
    const pub = await whipPublish(browser.page, `${a.url}/api/whip/publish/shared`);
    assert.equal(pub.status, 201);

    const redirect = await fetch(`${b.url}/api/whep/play/shared`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
      redirect: 'manual',
    });
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get('location'), `${a.url}/api/whep/play/shared`);

    // The browser starts on B's origin and follows the 307 to A (a CORS request after the redirect).
    const viewer = await browser.context.newPage();
    const view = await whepPlay(viewer, `${b.url}/api/whep/play/shared`);
    assert.equal(view.status, 201);
    assert.ok(view.location.startsWith(`${a.url}/api/whep/play/shared/`), view.location);
    await decodes(viewer, 20);
    const listedOnB = (await roomsOf(b)).find((r) => r.name === 'shared');
    assert.equal(listedOnB?.instance, 'inst-a', "B's API lists A's room");

    const killedAt = Date.now();
    await a.kill();
    a = undefined;
    let freedMs: number | undefined;
    while (Date.now() - killedAt < 30_000) {
      if (!(await roomsOf(b)).some((r) => r.name === 'shared')) {
        freedMs = Date.now() - killedAt;
        break;
      }
      await sleep(200);
    }
    assert.ok(freedMs !== undefined, "A's room was not freed within 30 s");
    await viewer.close();
    const republish = await whipPublish(browser.page, `${b.url}/api/whip/publish/shared`);
    assert.equal(republish.status, 201, 'B now owns the room');
    console.log(`# e2e figures ${JSON.stringify({ deadInstanceRoomFreedMs: freedMs })}`);
    await unpublish(browser.page, republish.location);
  });
});

// The web app in Chromium, used the way a person uses it: a viewer waits for a publisher, two
// publishers pick devices and publish (the viewer shows them as a grid, with live figures), a
// publisher whose session the server lost reconnects by itself (republish), a publisher whose
// media path goes silent restarts ICE on the same session, the rooms dashboard starts and
// stops a recording, the library lists it with its poster and output progress, the detail view
// plays the MP4 and the HLS output (with the sprite as seek preview) and deletes it after a
// confirmation, the library fits a phone's width, and <live-webrtc-player> plays the room on
// another site. Every view gets an axe-core check (no serious or critical violation) and a
// screenshot kept under test-artifacts/webapp/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { launchBrowser, type Browser } from '../support/browser.js';
import { freePort } from '../support/ports.js';
import { startTogether } from '../support/together.js';
import { startStack, type Stack } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts/webapp');
const ROOM = 'webapp';

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage });
  console.log(`screenshot: ${path}`);
}

/** axe-core on the current view: no serious or critical violation. */
async function accessible(page: Page, view: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe on the ${view} view`,
  );
}

const text = (page: Page, sel: string): Promise<string> => page.locator(sel).innerText();

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('the web app', { timeout: 240_000 }, () => {
  let browser: Browser;
  let stack: Stack;
  let site: Server;
  let siteUrl: string;
  let publisher: Page;
  let viewer: Page;
  let recordingId: string;

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const sitePort = await freePort();
    siteUrl = `http://127.0.0.1:${sitePort}`;
    [browser, stack] = await startTogether(
      launchBrowser(),
      startStack({ MAX_PUBS_PER_ROOM: '2', CORS_ORIGINS: siteUrl, TRANSCODE_OUTPUTS: 'mp4,hls,poster,sprite' }),
    );
    // "Another site" embedding the player: its own origin, its own page.
    site = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(
        `<!doctype html><html lang="en"><head><title>Embed</title><script type="module" src="${stack.url}/embed/player.js"></script></head>` +
          `<body><h1>A partner site</h1><live-webrtc-player room="${ROOM}" muted controls style="width:480px;height:270px"></live-webrtc-player>` +
          `<script>window.states=[];document.addEventListener('statechange',e=>window.states.push(e.detail.state));</script></body></html>`,
      );
    });
    await new Promise<void>((r) => site.listen(sitePort, '127.0.0.1', r));
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    await new Promise((r) => site?.close(r));
  });

  test('served built: hashed immutable assets, no-cache HTML, no inline script or style, CSP', async () => {
    const res = await fetch(`${stack.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/i, 'no inline script or style');
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(assets.length, 2, 'one script and one stylesheet');
    for (const a of assets) {
      assert.match(a, /-[A-Z0-9]{8}\.(js|css)$/, 'hashed name');
      const r = await fetch(stack.url + a);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    }
    const embed = await fetch(`${stack.url}/embed/player.js`);
    assert.equal(embed.status, 200);
    assert.equal(embed.headers.get('access-control-allow-origin'), '*');
    assert.match(embed.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${stack.url}/assets/nope-AAAAAAAA.js`)).status, 404);
  });

  test('watch waits for a publisher; publish with chosen devices shows preview and live figures', async () => {
    viewer = browser.page;
    publisher = await browser.context.newPage();
    await viewer.goto(`${stack.url}/#/watch?room=${ROOM}`);
    // Keyboard only: Watch is reached and pressed without the mouse.
    await viewer.focus('#watch');
    await viewer.keyboard.press('Enter');
    await viewer.locator('#watch-state[data-state="waiting"]').waitFor({ timeout: 10_000 });

    await publisher.goto(`${stack.url}/#/publish?room=${ROOM}`);
    await until('camera list', async () => (await publisher.locator('#pub-camera option').count()) > 0);
    await publisher.selectOption('#pub-resolution', { label: '360p (640×360)' });
    await publisher.selectOption('#pub-fps', '30');
    await until('preview', () => publisher.evaluate(() => (document.querySelector('#preview') as HTMLVideoElement).videoWidth === 640));
    await publisher.click('#publish');
    await publisher.locator('#publish-state[data-state="live"]').waitFor({ timeout: 20_000 });
    await until(
      'sending figures',
      async () =>
        /kbit|Mbit/.test(await text(publisher, '[data-figure="bitrate"]')) && /fps/.test(await text(publisher, '[data-figure="fps"]')),
    );
    assert.equal(await text(publisher, '[data-figure="size"]'), '640×360');
    assert.match(await text(publisher, '[data-figure="rtt"]'), /ms/);
    await shot(publisher, 'publish.png');
    await accessible(publisher, 'publish');

    // The viewer that waited connects by itself and decodes video.
    await viewer.locator('#watch-state[data-state="live"]').waitFor({ timeout: 20_000 });
    await until('decoded frames', () =>
      viewer.evaluate(() => (document.querySelector('#grid video') as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames > 20),
    );
    await until('receiving figures', async () => /kbit|Mbit/.test(await text(viewer, '[data-figure="bitrate"]')));
    assert.match(await text(viewer, '[data-figure="loss"]'), /%/);
    await shot(viewer, 'watch.png');
    await accessible(viewer, 'watch');
  });

  test('a second publisher appears as a second tile; a publisher who leaves and returns is picked up', async () => {
    const second = await browser.context.newPage();
    await second.goto(`${stack.url}/#/publish?room=${ROOM}`);
    await until('camera list', async () => (await second.locator('#pub-camera option').count()) > 0);
    await second.selectOption('#pub-resolution', { label: '360p (640×360)' });
    await second.click('#publish');
    await second.locator('#publish-state[data-state="live"]').waitFor({ timeout: 20_000 });
    await viewer.locator('#grid[data-live="2"]').waitFor({ timeout: 20_000 });
    await shot(viewer, 'watch-grid.png');

    await second.click('#unpublish');
    await viewer.locator('#grid[data-live="1"]').waitFor({ timeout: 15_000 });
    await second.click('#publish');
    await viewer.locator('#grid[data-live="2"]').waitFor({ timeout: 20_000 });
    await second.click('#unpublish');
    await second.close();
    await viewer.locator('#grid[data-live="1"]').waitFor({ timeout: 15_000 });
  });

  test('a publisher whose session is gone on the server reconnects by itself', async () => {
    const before = await publisher.locator('#publish-state').getAttribute('data-location');
    assert.ok(before);
    // What a network change that outlived the session looks like to the page: the server no longer knows it.
    assert.equal((await fetch(before, { method: 'DELETE' })).status, 200);
    await until(
      'a new session',
      async () =>
        (await publisher.locator('#publish-state').getAttribute('data-state')) === 'live' &&
        ((await publisher.locator('#publish-state').getAttribute('data-location')) ?? before) !== before,
      40_000,
    );
    await viewer.locator('#grid[data-live="1"]').waitFor({ timeout: 20_000 });
  });

  test('a network change: the publisher restarts ICE on the same session and is live again', async () => {
    const badge = publisher.locator('#publish-state');
    await badge.and(publisher.locator('[data-state="live"]')).waitFor({ timeout: 20_000 });
    const location = await badge.getAttribute('data-location');
    const restarts = Number((await badge.getAttribute('data-ice-restarts')) ?? '0');
    // The media path goes silent the way it does when the network under a browser changes: this
    // stack's mediasoup worker stops answering (SIGSTOP) until the page gives up on the path
    // and starts an ICE restart; then it answers again and the restart's PATCH completes.
    const workers = execFileSync('ps', ['-eo', 'pid=,pgid=,comm='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, pgid, comm]) => Number(pgid) === stack.pid && comm?.startsWith('mediasoup-work'))
      .map(([pid]) => Number(pid));
    assert.equal(workers.length, 1, "the stack's one mediasoup worker");
    const worker = workers[0]!;
    process.kill(worker, 'SIGSTOP');
    try {
      await until('the page restarting ICE', async () => (await badge.innerText()) === 'restarting ICE…', 40_000);
    } finally {
      process.kill(worker, 'SIGCONT');
    }
    await until(
      'live again through an ICE restart',
      async () =>
        (await badge.getAttribute('data-state')) === 'live' && Number(await badge.getAttribute('data-ice-restarts')) === restarts + 1,
      30_000,
    );
    assert.equal(await badge.getAttribute('data-location'), location, 'the same session: restarted, not republished');
    await until('sending again', async () => /kbit|Mbit/.test(await text(publisher, '[data-figure="bitrate"]')));
    await shot(publisher, 'publish-ice-restart.png');
    // The viewer, whose path went silent too, shows the publisher again.
    await viewer.locator('#grid[data-live="1"]').waitFor({ timeout: 30_000 });
    const frames = (): Promise<number> =>
      viewer.evaluate(() => (document.querySelector('#grid video') as HTMLVideoElement).getVideoPlaybackQuality().totalVideoFrames);
    const seen = await frames();
    await until('the viewer decoding again', async () => (await frames()) > seen + 20, 30_000);
  });

  test('rooms dashboard: live figures per room, start and stop a recording', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.url}/#/rooms`);
    const row = page.locator(`#rooms tr[data-room="${ROOM}"]`);
    await row.waitFor({ timeout: 10_000 });
    await until(
      'one publisher and one viewer',
      async () =>
        (await text(page, `tr[data-room="${ROOM}"] [data-col="publishers"]`)) === '1' &&
        (await text(page, `tr[data-room="${ROOM}"] [data-col="viewers"]`)) === '1',
    );
    await row.locator('button[data-action="record"]').click();
    await page.locator(`#rooms tr[data-room="${ROOM}"][data-recording="active"]`).waitFor({ timeout: 20_000 });
    await until('a running duration', async () => (await text(page, `tr[data-room="${ROOM}"] [data-col="duration"]`)) >= '0:02', 10_000);
    // Pause/resume are offered only when the server's OpenAPI document lists them (it does now).
    const doc = (await (await fetch(`${stack.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(Object.keys(doc.paths).some((p) => p.endsWith('/pause')));
    assert.equal(await row.locator('button[data-action="pause"]').count(), 1);
    assert.equal(await row.locator('button[data-action="resume"]').count(), 0, 'resume only on a paused recording');
    await shot(page, 'rooms.png');
    await accessible(page, 'rooms');
    await row.locator('button[data-action="pause"]').click();
    await page.locator(`#rooms tr[data-room="${ROOM}"][data-recording="paused"] button[data-action="resume"]`).waitFor({ timeout: 10_000 });
    await shot(page, 'rooms-paused.png');
    await accessible(page, 'rooms-paused');
    await page.locator(`#rooms tr[data-room="${ROOM}"] button[data-action="resume"]`).click();
    await page.locator(`#rooms tr[data-room="${ROOM}"][data-recording="active"] button[data-action="pause"]`).waitFor({ timeout: 10_000 });
    const rooms = (await (await fetch(`${stack.url}/api/v1/rooms`)).json()) as { rooms: { name: string; recordingId: string }[] };
    recordingId = rooms.rooms.find((r) => r.name === ROOM)!.recordingId;
    await new Promise((r) => setTimeout(r, 2000));
    await row.locator('button[data-action="stop"]').click();
    await page
      .locator(`#rooms tr[data-room="${ROOM}"][data-recording="none"], #rooms tr[data-room="${ROOM}"][data-recording="stopping"]`)
      .first()
      .waitFor({ timeout: 20_000 });
    await page.close();
  });

  test('recordings library: poster, output progress, filters and cursor pagination', async () => {
    // A second, short recording so that a page of one has a next page.
    let res: Response;
    const until409 = Date.now() + 20_000;
    // 409 while the first recording is still stopping.
    while (
      (res = await fetch(`${stack.url}/api/v1/rooms/${ROOM}/recordings`, { method: 'POST' })).status === 409 &&
      Date.now() < until409
    ) {
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(res.status, 201);
    const second = (await res.json()) as { id: string };
    await new Promise((r) => setTimeout(r, 1500));
    await fetch(`${stack.url}/api/v1/recordings/${second.id}/stop`, { method: 'POST' });

    const page = await browser.context.newPage();
    await page.goto(`${stack.url}/#/recordings?limit=1`);
    await page.locator('#recordings li.card').first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#recordings li.card').count(), 1);
    await page.click('#load-more');
    await page.locator(`#recordings li.card[data-id="${recordingId}"]`).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#recordings li.card').count(), 2);
    // Live status: the cards turn ready and their outputs finish without a reload.
    const card = page.locator(`#recordings li.card[data-id="${recordingId}"]`);
    await page.locator(`#recordings li.card[data-id="${recordingId}"][data-status="ready"] img`).waitFor({ timeout: 90_000 });
    await until(
      'every output ready',
      async () =>
        (await card.locator('li[data-output]').count()) >= 4 &&
        (await card.locator('li[data-output]:not([data-status="ready"])').count()) === 0,
      90_000,
    );
    // The poster is `loading="lazy"`: it loads once near the viewport (the second card may not
    // be), so bring it there and give it time to decode; a broken image never gets a width.
    await card.locator('img').scrollIntoViewIfNeeded();
    await until(
      'the poster loads',
      async () => card.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
      10_000,
    );
    await shot(page, 'recordings.png');
    await accessible(page, 'recordings');

    await page.fill('#filter-room', 'no-such-room');
    await page.click('button[type="submit"]');
    await page.locator('#recordings-note', { hasText: 'No recordings match.' }).waitFor();
    await page.fill('#filter-room', ROOM);
    await page.selectOption('#filter-status', 'ready');
    await page.click('button[type="submit"]');
    // Still one per page (?limit=1 is kept): the newest ready recording of the room.
    await page.locator('#recordings li.card[data-status="ready"]').first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#recordings li.card:not([data-status="ready"])').count(), 0);
    assert.match(page.url(), /room=webapp&status=ready|status=ready.*room=webapp|room=webapp.*status=ready/);
    await page.close();
  });

  test('recording detail: timeline, participants, MP4 and HLS playback, sprite preview, download, delete with confirmation', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.url}/#/recordings?room=${ROOM}`);
    await page.locator(`#recordings li.card[data-id="${recordingId}"] h2 a`).click();
    await page.locator('#rec-status[data-state="ready"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(
      await page.locator('#timeline li[data-status]').evaluateAll((li) => li.map((x) => (x as HTMLElement).dataset['status'])),
      ['starting', 'active', 'paused', 'active', 'stopping', 'processing', 'ready'],
    );
    // The pause the dashboard made is listed as a span left out of the outputs.
    assert.equal(await page.locator('#timeline li[data-pause]').count(), 1);
    assert.equal(await page.locator('#rec-controls button').count(), 0, 'no controls on a finished recording');
    assert.match(await text(page, '#participants'), /video \(vp8\)/);

    const playing = async (): Promise<number> => {
      await page.evaluate(() => {
        const v = document.querySelector('#player') as HTMLVideoElement;
        v.muted = true;
        return v.play();
      });
      let t = 0;
      await until(
        'playback advancing',
        async () => (t = await page.evaluate(() => (document.querySelector('#player') as HTMLVideoElement).currentTime)) > 0.5,
      );
      return t;
    };
    await page.locator('.player[data-source="mp4"]').waitFor();
    await playing();
    await page.click('button[data-source="hls"]');
    await page.locator('.player[data-source="hls"][data-engine]').waitFor();
    await playing();
    // The sprite: hovering the seek bar shows the frame there.
    await page.locator('.player[data-sprite]').waitFor({ timeout: 10_000 });
    const bar = await page.locator('#seek').boundingBox();
    assert.ok(bar);
    await page.mouse.move(bar.x + bar.width * 0.6, bar.y + bar.height / 2);
    await page.locator('#scrub-preview:not([hidden])').waitFor();
    // The viewport only: a full-page capture resizes it, which ends the hover.
    await shot(page, 'recording.png', false);
    await accessible(page, 'recording');

    const href = await page.locator('a[data-output="mp4"]').getAttribute('href');
    const mp4 = await fetch(new URL(href!, stack.url));
    assert.equal(mp4.status, 200);
    assert.equal(mp4.headers.get('content-type'), 'video/mp4');

    await page.click('#delete');
    await page.locator('#confirm[open]').waitFor();
    await shot(page, 'delete-confirm.png', false);
    await page.click('#confirm-cancel');
    assert.equal((await fetch(`${stack.url}/api/v1/recordings/${recordingId}`)).status, 200, 'cancel keeps it');
    await page.click('#delete');
    await page.click('#confirm-ok');
    await page.waitForURL(/#\/recordings$/);
    assert.equal((await fetch(`${stack.url}/api/v1/recordings/${recordingId}`)).status, 404, 'deleted on the server');
    await page.close();
  });

  test('at a phone width (375 px) the library fits without sideways scrolling', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 375, height: 812 });
    await page.goto(`${stack.url}/#/recordings`);
    await page.locator('#recordings li.card').first().waitFor({ timeout: 10_000 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no horizontal overflow');
    await shot(page, 'recordings-375.png');
    await accessible(page, 'recordings at 375 px');
    await page.goto(`${stack.url}/#/publish`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'publish fits too');
    await page.close();
  });

  test('<live-webrtc-player> plays the room on another site', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${siteUrl}/`);
    await page.locator('live-webrtc-player[state="live"]').waitFor({ timeout: 20_000 });
    await until('embedded frames', () =>
      page.evaluate(
        () =>
          (document.querySelector('live-webrtc-player') as unknown as { video: HTMLVideoElement }).video.getVideoPlaybackQuality()
            .totalVideoFrames > 10,
      ),
    );
    const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
    assert.ok(states.includes('connecting') && states.includes('live'), `statechange events: ${states.join(', ')}`);
    await shot(page, 'embed.png');
    await accessible(page, 'embedded player');
    // Removing the element ends its session on the server.
    await page.evaluate(() => document.querySelector('live-webrtc-player')?.remove());
    await page.close();

    await publisher.click('#unpublish');
    await publisher.locator('#publish-state[data-state="idle"]').waitFor();
    await viewer.click('#unwatch');
    await until('the room closed', async () => {
      const rooms = (await (await fetch(`${stack.url}/api/v1/rooms`)).json()) as { rooms: { name: string }[] };
      return !rooms.rooms.some((r) => r.name === ROOM);
    });
  });
});

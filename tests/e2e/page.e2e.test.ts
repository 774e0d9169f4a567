// The product's web page, used the way a person uses it: one tab watches a room before anybody
// publishes (and waits), another publishes its camera, starts and stops a recording; the file
// appears in the recordings table, its download link serves a playable WebM, and Delete removes
// it. Only the page's own buttons are clicked; the checks read what the page shows.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, viewerStats, type Browser } from '../support/browser.js';
import { ffprobe } from '../support/ffprobe.js';
import { startTogether } from '../support/together.js';
import { startStack, type Stack } from '../support/stack.js';

describe('the web page at /', { timeout: 180_000 }, () => {
  let browser: Browser;
  let stack: Stack;
  before(async () => {
    [browser, stack] = await startTogether(launchBrowser(), startStack());
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('watch before publishing, publish, record, download and delete from the page', async () => {
    const room = 'page-room';
    const viewer = browser.page;
    const publisher = await browser.context.newPage();
    const badge = (page: typeof viewer, id: string) => page.locator(`#${id}`);

    await viewer.goto(`${stack.url}/?room=${room}`);
    await viewer.click('#watch');
    await badge(viewer, 'watch-state').filter({ hasText: 'waiting for a publisher' }).waitFor({ timeout: 10_000 });

    await publisher.goto(`${stack.url}/?room=${room}`);
    await publisher.click('#publish');
    await publisher.locator('#publish-state[data-state="live"]').waitFor({ timeout: 20_000 });

    // The waiting viewer connects by itself and decodes frames.
    await viewer.locator('#watch-state[data-state="live"]').waitFor({ timeout: 20_000 });
    const until = Date.now() + 15_000;
    while ((await viewerStats(viewer)).framesDecoded < 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
    assert.ok((await viewerStats(viewer)).framesDecoded >= 20, 'the viewer that waited decodes video');

    await publisher.locator('#record-start:not([disabled])').waitFor({ timeout: 10_000 });
    await publisher.click('#record-start');
    await publisher.locator('#record-state[data-state="live"]').waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 3000));
    await publisher.click('#record-stop');

    // The recordings table shows the finished recording with a download link.
    const link = publisher.locator('#recordings a[data-output="raw"]');
    await link.waitFor({ timeout: 30_000 });
    const id = await link.getAttribute('data-id');
    assert.ok(id);
    const row = publisher.locator(`#recordings tr[data-status="ready"]`);
    assert.equal(await row.count(), 1);
    const href = await link.getAttribute('href');
    const res = await fetch(new URL(href!, stack.url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/webm');
    const dir = await mkdtemp(join(tmpdir(), 'lw-page-'));
    try {
      const file = join(dir, 'raw.webm');
      await writeFile(file, Buffer.from(await res.arrayBuffer()));
      const probe = await ffprobe(file);
      assert.deepEqual(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), ['audio/opus', 'video/vp8']);
      const seconds = Number(probe.format.duration);
      assert.ok(seconds > 2 && seconds < 6, `a ~3 s recording lasts ${seconds} s`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    await publisher.click(`#recordings button[data-action="delete"][data-id="${id}"]`);
    await publisher.locator(`#recordings a[data-id="${id}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal((await fetch(`${stack.url}/api/v1/recordings/${id}`)).status, 404, 'deleted on the server too');

    await publisher.click('#unpublish');
    await publisher.locator('#publish-state[data-state="idle"]').waitFor({ timeout: 10_000 });
    await viewer.click('#unwatch');
    await viewer.locator('#watch-state[data-state="idle"]').waitFor({ timeout: 10_000 });
    const rooms = (await (await fetch(`${stack.url}/api/v1/rooms`)).json()) as { rooms: { name: string }[] };
    assert.ok(!rooms.rooms.some((r) => r.name === room), 'leaving from the page ends both sessions on the server');
  });
});

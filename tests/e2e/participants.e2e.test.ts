// Every participant, end to end: three Chromium publishers in one room (two from the start, a
// late joiner, one leaving before the stop), recorded over the REST API. Each participant must
// get a decodable output of their own (audio + video), and the recording object must place
// them on the recording's timeline where they joined and left (tolerance printed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, whipPublish, type Browser } from '../support/browser.js';
import { ffprobe } from '../support/ffprobe.js';
import { startStack, type Stack } from '../support/stack.js';
import { startTogether } from '../support/together.js';

interface Participant {
  id: string;
  output: string;
  startOffsetMs: number;
  endOffsetMs: number | null;
  tracks: { kind: string; codec: string }[];
}
interface RecordingView {
  id: string;
  status: string;
  firstFrameAt?: string;
  transitions: { status: string; at: string }[];
  outputs: { name: string; status: string; size: number | null; contentType: string }[];
  participants: Participant[];
}

async function api<T>(stack: Stack, method: string, path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`${stack.url}${path}`, { method });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

async function waitFor(stack: Stack, id: string, status: string, timeoutMs: number): Promise<RecordingView> {
  const until = Date.now() + timeoutMs;
  let rec: RecordingView | undefined;
  while (Date.now() < until) {
    rec = (await api<RecordingView>(stack, 'GET', `/api/v1/recordings/${id}`)).body;
    if (rec.status === status) return rec;
    if (rec.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`recording ${id} did not reach ${status}: ${JSON.stringify(rec)}\n${stack.logs.slice(-40).join('\n')}`);
}

async function waitForOutput(stack: Stack, id: string, name: string, timeoutMs: number): Promise<RecordingView['outputs'][number]> {
  const until = Date.now() + timeoutMs;
  let o: RecordingView['outputs'][number] | undefined;
  while (Date.now() < until) {
    o = (await api<RecordingView>(stack, 'GET', `/api/v1/recordings/${id}`)).body.outputs.find((x) => x.name === name);
    if (o?.status === 'ready') return o;
    if (o?.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`output ${name} of ${id} not ready: ${JSON.stringify(o)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Time of each stream's first packet, seconds, by stream index. */
async function firstPacketTimes(file: string): Promise<Map<number, number>> {
  const { stdout } = await promisify(execFile)(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time', '-of', 'csv=p=0', file],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const first = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const [i, t] = line.split(',');
    if (i === undefined || t === undefined || t === 'N/A' || first.has(Number(i))) continue;
    first.set(Number(i), Number(t));
  }
  return first;
}

/** Decodes every frame of the file; true when ffmpeg reports no error. */
async function decodes(file: string): Promise<boolean> {
  try {
    const { stderr } = await promisify(execFile)('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-f', 'null', '-'], { timeout: 60_000 });
    return !/error/i.test(stderr);
  } catch {
    return false;
  }
}

describe('every participant of a three-publisher room', { timeout: 300_000 }, () => {
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

  test('one decodable output per participant, offsets where they joined and left', async () => {
    const room = 'trio';
    const url = `${stack.url}/api/whip/publish/${room}`;
    const pages: Page[] = [browser.page, await browser.context.newPage(), await browser.context.newPage()];
    const a = await whipPublish(pages[0]!, url);
    const b = await whipPublish(pages[1]!, url);
    assert.equal(a.status, 201);
    assert.equal(b.status, 201, 'a second publisher is welcome by default (MAX_PUBS_PER_ROOM 4)');
    await sleep(500);

    // The composite is made from the raw file, which holds every participant's output placed at
    // their start offset (a stream copy of the participant outputs).
    const startRes = await fetch(`${stack.url}/api/v1/rooms/${room}/recordings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ outputs: ['composite'] }),
    });
    const started = { status: startRes.status, body: (await startRes.json()) as RecordingView };
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const id = started.body.id;
    const active = await waitFor(stack, id, 'active', 20_000);
    const activeAt = Date.parse(active.transitions.find((t) => t.status === 'active')!.at);

    await sleep(5000);
    const c = await whipPublish(pages[2]!, url);
    assert.equal(c.status, 201);
    const joinedAt = Date.now();

    await sleep(6000);
    const leftAt = Date.now();
    assert.equal((await fetch(b.location, { method: 'DELETE' })).status, 200);
    await pages[1]!.evaluate(() => (window as unknown as { __pub?: RTCPeerConnection }).__pub?.close());

    await sleep(5000);
    const stopAt = Date.now();
    assert.equal((await api(stack, 'POST', `/api/v1/recordings/${id}/stop`)).status, 202);
    const ready = await waitFor(stack, id, 'ready', 120_000);

    const ps = ready.participants;
    assert.equal(ps.length, 3, JSON.stringify(ps));
    assert.deepEqual(
      ps.map((p) => p.output),
      ['participant-1', 'participant-2', 'participant-3'],
    );
    for (const p of ps) {
      assert.ok(
        !/^[0-9a-f-]{36}$/i.test(p.id) && !a.location.includes(p.id) && !b.location.includes(p.id) && !c.location.includes(p.id),
        'opaque ids, not session ids',
      );
      assert.deepEqual(p.tracks.map((t) => `${t.kind}/${t.codec}`).sort(), ['audio/opus', 'video/vp8']);
    }
    const [pa, pb, pc] = ps as [Participant, Participant, Participant];
    const figures = {
      wallMs: stopAt - activeAt,
      joinedAtMs: joinedAt - activeAt,
      leftAtMs: leftAt - activeAt,
      starts: ps.map((p) => p.startOffsetMs),
      ends: ps.map((p) => p.endOffsetMs),
      joinErrorMs: pc.startOffsetMs - (joinedAt - activeAt),
      leaveErrorMs: (pb.endOffsetMs ?? 0) - (leftAt - activeAt),
      outputs: {} as Record<string, { ms: number; bytes: number }>,
    };
    // Present from the start: at the start of the timeline. The late joiner and the leaver: where
    // they joined / left, within 2.5 s (the new run's start on this loaded machine; printed).
    assert.ok(pa.startOffsetMs <= 500 && pb.startOffsetMs <= 500, `starts ${pa.startOffsetMs}, ${pb.startOffsetMs}`);
    assert.ok(Math.abs(figures.joinErrorMs) <= 2500, `late joiner placed at ${pc.startOffsetMs} ms, joined at ${joinedAt - activeAt} ms`);
    assert.ok(Math.abs(figures.leaveErrorMs) <= 2500, `leaver ends at ${pb.endOffsetMs} ms, left at ${leftAt - activeAt} ms`);
    assert.ok((pa.endOffsetMs ?? 0) > (pb.endOffsetMs ?? 0) + 2000, 'the one who stayed ends later than the leaver');

    const dir = await mkdtemp(join(tmpdir(), 'lw-trio-'));
    const spans: string[] = [];
    try {
      for (const p of ps) {
        const out = ready.outputs.find((o) => o.name === p.output);
        assert.equal(out?.status, 'ready', p.output);
        const res = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/${p.output}`);
        assert.equal(res.status, 200);
        const file = join(dir, `${p.output}.webm`);
        await writeFile(file, Buffer.from(await res.arrayBuffer()));
        const probe = await ffprobe(file);
        assert.deepEqual(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), ['audio/opus', 'video/vp8'], p.output);
        assert.ok(await decodes(file), `${p.output} decodes`);
        const ms = Math.round(Number(probe.format.duration) * 1000);
        figures.outputs[p.output] = { ms, bytes: out!.size ?? 0 };
        const span = (p.endOffsetMs ?? 0) - p.startOffsetMs;
        spans.push(`${p.output} lasts ${ms} ms, its offsets span ${span} ms`);
        assert.ok(Math.abs(ms - span) <= 1000, spans.at(-1));
      }
      // The raw output holds everyone: 3 × (audio + video).
      const raw = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/raw`);
      assert.equal(raw.status, 200);
      const rawFile = join(dir, 'raw.webm');
      await writeFile(rawFile, Buffer.from(await raw.arrayBuffer()));
      const rawProbe = await ffprobe(rawFile);
      assert.equal(rawProbe.streams.length, 6);
      // Each participant's streams start in the raw file where the manifest says they start.
      // From the packets: ffprobe's per-stream start_time only looks at its probe window.
      const first = await firstPacketTimes(rawFile);
      const t0 = Math.min(...first.values());
      for (const [i, p] of ps.entries()) {
        const v = rawProbe.streams.filter((s) => s.codec_type === 'video')[i]!;
        const startMs = Math.round((first.get(v.index)! - t0) * 1000);
        assert.ok(
          Math.abs(startMs - p.startOffsetMs) <= 300,
          `${p.output}: video starts at ${startMs} ms in raw, offset ${p.startOffsetMs}`,
        );
      }
      const composite = await waitForOutput(stack, id, 'composite', 180_000);
      const comp = await fetch(`${stack.url}/api/v1/recordings/${id}/outputs/composite`);
      assert.equal(comp.status, 200);
      const compFile = join(dir, 'composite.mp4');
      await writeFile(compFile, Buffer.from(await comp.arrayBuffer()));
      const compProbe = await ffprobe(compFile);
      assert.deepEqual(compProbe.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort(), ['audio/aac', 'video/h264']);
      figures.outputs['composite'] = { ms: Math.round(Number(compProbe.format.duration) * 1000), bytes: composite.size ?? 0 };
      figures.outputs['raw'] = {
        ms: Math.round(Number(rawProbe.format.duration) * 1000),
        bytes: ready.outputs.find((o) => o.name === 'raw')?.size ?? 0,
      };
    } finally {
      // With PARTICIPANTS_KEEP_DIR set, the downloaded files are kept there for a look afterwards.
      const keep = process.env['PARTICIPANTS_KEEP_DIR'];
      if (keep) await cp(dir, keep, { recursive: true });
      console.log(`# participant figures ${JSON.stringify({ ...figures, spans })}`);
      await rm(dir, { recursive: true, force: true });
      for (const s of [a, c]) await fetch(s.location, { method: 'DELETE' }).catch(() => {});
      for (const p of pages.slice(1)) await p.close().catch(() => {});
    }
  });
});

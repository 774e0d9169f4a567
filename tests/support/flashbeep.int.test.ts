// The flash/beep measuring tools against content whose answer is known: the clip itself muxed
// with no offset, and with audio delayed by a known amount.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { analyzeFlashBeep, makeFlashBeepClip, secondsMissing, type FlashBeepClip } from './flashbeep.js';

const run = promisify(execFile);
let dir: string;
let clip: FlashBeepClip;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lw-flashbeep-'));
  clip = await makeFlashBeepClip(dir, { seconds: 6 });
});
after(async () => rm(dir, { recursive: true, force: true }));

async function mux(out: string, audioDelayMs: number, cut?: { from: number; to: number }): Promise<void> {
  const args = ['-v', 'error', '-y', '-i', clip.y4m, '-itsoffset', String(audioDelayMs / 1000), '-i', clip.wav];
  if (cut) {
    const keep = `not(between(t,${cut.from},${cut.to}))`;
    args.push('-vf', `select='${keep}'`, '-af', `aselect='${keep}'`);
  }
  // PCM audio: an Opus encoder's pre-skip shifts timestamps by a muxer's convention, which is
  // not what these tests are about.
  args.push('-c:v', 'libvpx', '-b:v', '300k', '-c:a', 'pcm_s16le', '-shortest', out);
  await run('ffmpeg', args);
}

test('analyzeFlashBeep finds one flash and one beep a second, in sync when muxed in sync', async () => {
  const out = join(dir, 'sync.mkv');
  await mux(out, 0);
  const a = await analyzeFlashBeep(out);
  // The file starts mid-pulse (t=0 is a flash), so the first onsets are at 1 s.
  assert.deepEqual(
    a.flashes.map((t) => Math.round(t)),
    [1, 2, 3, 4, 5],
  );
  assert.equal(a.beeps.length, 5);
  assert.ok(a.avOffsetMs !== null && Math.abs(a.avOffsetMs) <= 5, `offset ${a.avOffsetMs} ms`);
});

test('analyzeFlashBeep measures a known audio delay', async () => {
  const out = join(dir, 'late.mkv');
  await mux(out, 60);
  const a = await analyzeFlashBeep(out);
  assert.ok(a.avOffsetMs !== null && Math.abs(a.avOffsetMs - 60) <= 5, `offset ${a.avOffsetMs} ms, expected 60`);
});

test('secondsMissing counts a gap kept on the timeline', () => {
  assert.equal(secondsMissing([1, 2, 3, 6, 7]), 2);
  assert.equal(secondsMissing([1, 2, 3, 4]), 0);
});

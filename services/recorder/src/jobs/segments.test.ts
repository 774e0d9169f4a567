// The segment uploader's last scan at the end of a run: the segment ffmpeg was writing (unlisted)
// is this run's; files past it belong to a next run that started on this recorder during the
// handover (it starts past a reserve of indices: capture.ts, handoverReserve) and are not
// taken. Real files and local storage; the store is a map (only `update` is used).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, LocalStorage, type Recording, type RecordingStore } from '@live-webrtc/shared';
import { segmentFileName } from '../ffmpeg/args.js';
import { createRecorderMetrics } from '../metrics.js';
import { handoverReserve } from './capture.js';
import { SegmentUploader } from './segments.js';

test('a run that hands on on this recorder: handoverReserve spans every segment it can open meanwhile', () => {
  // 8 s of handover at most: 2 s segments → 4 boundaries, 10 s → 1; +2 for the one it was
  // writing and one killed between closing a segment and listing it.
  assert.equal(handoverReserve({ segmentSeconds: 2 }), 6);
  assert.equal(handoverReserve({ segmentSeconds: 10 }), 3);
  assert.equal(handoverReserve({ segmentSeconds: 2, handoverWaitMs: 1000 }), 3);
});

test("finish() uploads the run's unlisted last segment, not a next run's files in the same directory", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-segments-'));
  try {
    const storage = new LocalStorage(join(dir, 'store'));
    await storage.init();
    const work = join(dir, 'work');
    await mkdir(work, { recursive: true });
    // Run 0 listed segments 0–2 and was writing 3; a next run started at 3 + 1 + reserve.
    const next = 3 + 1 + handoverReserve({ segmentSeconds: 2 });
    for (const i of [0, 1, 2, 3, next, next + 1]) await writeFile(join(work, segmentFileName(i)), `segment ${i}`);
    const listPath = join(work, 'run-0.csv');
    await writeFile(listPath, [0, 1, 2].map((i) => `${segmentFileName(i)},${i * 2}.000000,${i * 2 + 2}.000000\n`).join(''));
    let rec = { segments: [] } as unknown as Recording;
    const store = {
      update: async (_id: string, f: (r: Recording) => Recording | null) => {
        rec = f(rec) ?? rec;
        return rec;
      },
    } as unknown as RecordingStore;
    const uploader = new SegmentUploader({
      recordingId: 'rec-1',
      run: 0,
      dir: work,
      listPath,
      storage,
      store,
      metrics: createRecorderMetrics(1),
      logger: createLogger('test', 'silent'),
      retry: { attempts: 1 },
    });
    const r = await uploader.finish();
    assert.deepEqual(r, { uploaded: 4, failed: 0 });
    assert.deepEqual(
      rec.segments.map((s) => [s.index, s.run]),
      [
        [0, 0],
        [1, 0],
        [2, 0],
        [3, 0],
      ],
      "the next run's segments stay for it",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Back to baseline (#12): the stack as `npm start` runs it, a short churn of a few rooms (light
// publishers, WHEP viewers joining and leaving, recordings with a transcoded output started and
// stopped, a publisher leaving and rejoining), then every room closes. Afterwards mediasoup's
// objects, the stack's UDP sockets, ffmpeg processes, Redis keys beyond the recordings index and
// the recorder's work files must be back where they were before the first room opened, and no
// recording may be lost. The long version of this is the soak (`npm run soak`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { differences, settleToBaseline, takeCensus, type IdleCounts } from '../support/census.js';
import { Churn } from '../support/churn.js';
import { startStack, type Stack } from '../support/stack.js';

const CHURN_S = 30;

/** A small seeded generator, so a failure can be replayed with the same steps. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('back to baseline after rooms, viewers and recordings come and go', { timeout: 240_000 }, () => {
  let stack: Stack;
  let base: IdleCounts;

  before(async () => {
    stack = await startStack({
      TRANSCODE_OUTPUTS: 'poster',
      SEGMENT_SECONDS: '2',
      RECORD_REJOIN_GRACE_SECONDS: '10',
    });
    // The recorder registers itself and its queues right after start: let that settle first.
    await new Promise((r) => setTimeout(r, 2000));
    base = (await takeCensus(stack)).idle;
  });
  after(async () => {
    await stack?.stop();
  });

  test('every count returns to its idle value and every recording ends ready', async () => {
    const seed = Number(process.env['BASELINE_SEED'] ?? 12);
    const churn = new Churn(stack, { rooms: 3, maxViewers: 2, minRecordingS: 4, absenceS: 2, prefix: 'base-', random: seeded(seed) });
    await churn.start();
    const during = await takeCensus(stack);
    assert.ok((during.media?.producers ?? 0) > 0, 'the publishers are producing');
    assert.ok(differences(base, during.idle).length > 0, 'the census sees the rooms (else the check below proves nothing)');
    const until = Date.now() + CHURN_S * 1000;
    while (Date.now() < until) {
      await churn.step();
      await churn.poll();
      await new Promise((r) => setTimeout(r, 1000));
    }
    await churn.drain(120_000);
    const summary = churn.summary();
    console.log(`# baseline churn (seed ${seed}): ${JSON.stringify(summary)}`);
    assert.ok(summary.recordingsStarted > 0, 'recordings were started');
    assert.equal(summary.pending, 0, 'every recording reached a final status');
    const failed = [...churn.recordings.values()].filter((t) => t.status !== 'ready');
    assert.deepEqual(
      failed.map((t) => ({ id: t.id, status: t.status, error: t.error })),
      [],
      'no recording lost',
    );
    const { diff, last } = await settleToBaseline(stack, base, 30_000);
    console.log(`# baseline: before ${JSON.stringify(base)}`);
    console.log(`# baseline: after  ${JSON.stringify(last.idle)}`);
    assert.deepEqual(diff, [], `counts not back at baseline:\n${stack.logs.slice(-30).join('\n')}`);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from '@live-webrtc/shared';
import { RtpLossCounter } from './rtpLoss.js';

test("ffmpeg's RTP loss and lateness lines are counted; other lines are not", async () => {
  const registry = new Registry();
  const rtpPackets = new Counter({ name: 't_rtp', help: 't', labelNames: ['result'], registers: [registry] });
  const c = new RtpLossCounter({ rtpPackets });
  assert.equal(c.count('[sdp @ 0x5581] RTP: missed 3 packets'), true);
  assert.equal(c.count('[sdp @ 0x5581] RTP: missed 1 packets'), true);
  assert.equal(c.count('[sdp @ 0x5581] RTP: PT=60: bad cseq 1a2b expected=1a2d'), true);
  assert.equal(c.count('Input #0, sdp, from run-0.sdp:'), false);
  assert.deepEqual(c.totals, { lost: 4, late: 1 });
  const v = (await rtpPackets.get()).values;
  assert.equal(v.find((x) => x.labels['result'] === 'lost')?.value, 4);
  assert.equal(v.find((x) => x.labels['result'] === 'late')?.value, 1);
});

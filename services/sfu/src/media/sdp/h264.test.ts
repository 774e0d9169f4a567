import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { types as ms } from 'mediasoup';
import * as ortc from 'mediasoup/lib/ortc.js';
import { sameCodec } from './codecs.js';
import { parseProfileLevelId } from './h264.js';

test('profile-level-id parses to the profiles of h264-profile-level-id', () => {
  const table: [string, string | undefined, number | undefined][] = [
    ['42001f', 'Baseline', 31],
    ['42e01f', 'ConstrainedBaseline', 31],
    ['42E01F', 'ConstrainedBaseline', 31],
    ['4d001f', 'Main', 31],
    ['4d0032', 'Main', 50],
    ['64001f', 'High', 31],
    ['640032', 'High', 50],
    ['640c1f', 'ConstrainedHigh', 31],
    ['f4001f', 'PredictiveHigh444', 31],
    ['42f00b', 'ConstrainedBaseline', 0], // level 1b: constraint_set3 with level_idc 11
    ['42e00b', 'ConstrainedBaseline', 11],
    ['42e0ff', undefined, undefined], // unknown level
    ['6e001f', undefined, undefined], // High 10: not in mediasoup's table
    ['000000', undefined, undefined],
    ['42e01', undefined, undefined],
    ['zz001f', undefined, undefined],
  ];
  for (const [id, profile, level] of table) {
    const parsed = parseProfileLevelId(id);
    assert.deepEqual(parsed && [parsed.profile, parsed.level], profile === undefined ? undefined : [profile, level], id);
  }
});

/** True when mediasoup's produce() would map an H.264 codec with `offered` onto a router codec with `router`. */
function ortcAccepts(offered: Record<string, string | number>, router: Record<string, string | number>): boolean {
  const caps = ortc.generateRouterRtpCapabilities([{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { ...router } }]);
  const params: ms.RtpParameters = {
    codecs: [{ mimeType: 'video/H264', payloadType: 96, clockRate: 90000, parameters: { ...offered } }],
    encodings: [{ ssrc: 1 }],
  };
  ortc.validateRtpParameters(params);
  try {
    ortc.getProducerRtpParametersMapping(params, caps);
    return true;
  } catch {
    return false;
  }
}

test('sameCodec() agrees with mediasoup 3.8.4 on every pair of H.264 variants', () => {
  const ids = ['42001f', '42e01f', '42e034', '4d001f', '4d0032', '640032', '64001f', '640c1f', 'f4001f', '4de01f', undefined];
  const variants = ids.flatMap((id) =>
    [0, 1].map((pm) => ({ 'packetization-mode': pm, 'level-asymmetry-allowed': 1, ...(id ? { 'profile-level-id': id } : {}) })),
  );
  let pairs = 0;
  for (const a of variants) {
    for (const b of variants) {
      const ours = sameCodec(
        { mimeType: 'video/H264', clockRate: 90000, parameters: a },
        { mimeType: 'video/h264', clockRate: 90000, parameters: b },
      );
      assert.equal(ours, ortcAccepts(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      pairs++;
    }
  }
  assert.equal(pairs, 22 * 22);
});

test('sameCodec() follows mediasoup for VP9 profile-id and opus channels', () => {
  const vp9 = (p?: number) => ({ mimeType: 'video/VP9', clockRate: 90000, parameters: p === undefined ? {} : { 'profile-id': p } });
  assert.equal(sameCodec(vp9(), vp9(0)), true);
  assert.equal(sameCodec(vp9(0), vp9(2)), false);
  assert.equal(
    sameCodec({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 }, { mimeType: 'audio/OPUS', clockRate: 48000, channels: 2 }),
    true,
  );
  assert.equal(sameCodec({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 }, { mimeType: 'audio/opus', clockRate: 48000 }), false);
  // Video channels do not count (ortc's validation deletes them).
  assert.equal(sameCodec({ mimeType: 'video/VP8', clockRate: 90000, channels: 1 }, { mimeType: 'video/VP8', clockRate: 90000 }), true);
});

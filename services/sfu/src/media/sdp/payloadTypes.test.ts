import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { types as ms } from 'mediasoup';
import { isRtx, paramsOf, PLACEHOLDER_MIME_TYPE } from './codecs.js';
import { MEDIASOUP_DYNAMIC_PAYLOAD_TYPES, planRouterCodecs, routerRtxPayloadTypes, type PlannedCodec } from './payloadTypes.js';
import { SUPPORTED_CODECS } from '../codecs.js';
import { routerCapabilities } from './fixtures/mediasoup.js';

/** media PT → RTX PT as mediasoup's own generateRouterRtpCapabilities assigns them. */
function ortcRtx(mediaCodecs: ms.RtpCodecCapability[]): Map<number, number> {
  const caps = routerCapabilities(mediaCodecs);
  const out = new Map<number, number>();
  for (const c of caps.codecs ?? []) if (isRtx(c)) out.set(Number(paramsOf(c)['apt']), c.preferredPayloadType as number);
  return out;
}

const video = (mimeType: string, pt: number, rtx?: number): PlannedCodec => ({
  codec: { kind: 'video', mimeType, clockRate: 90000, preferredPayloadType: pt },
  ...(rtx === undefined ? {} : { rtxPayloadType: rtx }),
});
const opus = (pt: number): PlannedCodec => ({
  codec: { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: pt },
});

test('the dynamic payload-type list is ortc.js DynamicPayloadTypes (100…127 then 96…99)', () => {
  assert.equal(MEDIASOUP_DYNAMIC_PAYLOAD_TYPES.length, 32);
  assert.deepEqual(MEDIASOUP_DYNAMIC_PAYLOAD_TYPES.slice(0, 3), [100, 101, 102]);
  assert.deepEqual(MEDIASOUP_DYNAMIC_PAYLOAD_TYPES.slice(-4), [96, 97, 98, 99]);
});

test('routerRtxPayloadTypes() predicts mediasoup for the publisher router (RTX 100, 101, 103, …)', () => {
  const ours = routerRtxPayloadTypes(SUPPORTED_CODECS);
  assert.deepEqual(ours, ortcRtx(SUPPORTED_CODECS));
  // VP8 96 gets RTX 100, not Chrome's 97: the publisher router cannot serve Chrome RTX.
  assert.equal(ours.get(96), 100);
});

test('routerRtxPayloadTypes() throws where mediasoup throws (an earlier RTX took the PT)', () => {
  const codecs = [video('video/VP8', 96).codec, video('video/VP9', 100).codec];
  assert.throws(() => routerRtxPayloadTypes(codecs), /duplicated codec.preferredPayloadType/);
  assert.throws(() => routerCapabilities(codecs), /duplicated codec.preferredPayloadType/);
});

test('planRouterCodecs() aligns every RTX PT of a Chromium-style numbering, as mediasoup confirms', () => {
  const entries = [
    opus(111),
    video('video/VP8', 96, 97),
    video('video/VP9', 98, 99),
    video('video/H264', 102, 103),
    video('video/H264', 127, 125),
  ];
  const plan = planRouterCodecs(entries);
  assert.ok(plan);
  assert.deepEqual([...plan.alignedRtx].sort(), [102, 127, 96, 98].sort());
  const actual = ortcRtx(plan.mediaCodecs);
  assert.deepEqual(actual, plan.rtx);
  assert.deepEqual([actual.get(96), actual.get(98), actual.get(102), actual.get(127)], [97, 99, 103, 125]);
  // Placeholders only burn PTs nobody else uses.
  const placeholders = plan.mediaCodecs.filter((c) => c.mimeType === PLACEHOLDER_MIME_TYPE).map((c) => c.preferredPayloadType);
  for (const pt of placeholders) assert.ok(![111, 96, 97, 98, 99, 102, 103, 127, 125].includes(pt as number));
});

test('planRouterCodecs() adds no placeholder when there is nothing to align', () => {
  const plan = planRouterCodecs([opus(111), video('video/H264', 96)]);
  assert.ok(plan);
  assert.equal(plan.mediaCodecs.length, 2);
  assert.deepEqual(plan.alignedRtx, new Set());
});

test('planRouterCodecs() aligns what can be aligned when neighbours block each other (Firefox VP8 120 / VP9 121)', () => {
  const entries = [opus(109), video('video/VP8', 120, 124), video('video/VP9', 121, 125), video('video/H264', 126, 127)];
  const plan = planRouterCodecs(entries);
  assert.ok(plan);
  // Whichever of 120/121 comes first, its RTX lands before 124: only H.264 can be aligned.
  assert.deepEqual([...plan.alignedRtx], [126]);
  assert.deepEqual(ortcRtx(plan.mediaCodecs), plan.rtx);
});

test('planRouterCodecs() reports numberings mediasoup cannot build at all', () => {
  // VP8 100 and VP9 101: the first one placed gets the other's PT as RTX.
  assert.equal(planRouterCodecs([video('video/VP8', 100), video('video/VP9', 101)]), undefined);
  assert.throws(() => planRouterCodecs([opus(111), video('video/VP8', 111)]), /distinct/);
});

test('planRouterCodecs() plans are accepted by mediasoup for many random numberings', () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let built = 0;
  for (let round = 0; round < 200; round++) {
    const pool = [...MEDIASOUP_DYNAMIC_PAYLOAD_TYPES];
    const take = (): number => pool.splice(rand(pool.length), 1)[0] as number;
    const entries: PlannedCodec[] = [opus(take())];
    const n = 1 + rand(5);
    for (let i = 0; i < n; i++) entries.push(video(['video/VP8', 'video/VP9', 'video/H264'][i % 3] as string, take(), take()));
    const plan = planRouterCodecs(entries);
    if (!plan) continue;
    built++;
    assert.deepEqual(
      ortcRtx(plan.mediaCodecs),
      plan.rtx,
      JSON.stringify(entries.map((e) => [e.codec.preferredPayloadType, e.rtxPayloadType])),
    );
    for (const pt of plan.alignedRtx)
      assert.equal(plan.rtx.get(pt), entries.find((e) => e.codec.preferredPayloadType === pt)?.rtxPayloadType);
  }
  assert.ok(built > 150, `only ${built} of 200 numberings were buildable`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseVp9Descriptor, toFfmpegVp9Packet } from './vp9.js';

/** An RTP packet (PT 98, optional marker, optional one-byte header extension) around `payload`. */
function rtp(payload: number[], o: { marker?: boolean; ext?: boolean; padding?: number } = {}): Buffer {
  const head = Buffer.alloc(12);
  head[0] = 0x80 | (o.ext ? 0x10 : 0) | (o.padding ? 0x20 : 0);
  head[1] = (o.marker ? 0x80 : 0) | 98;
  head.writeUInt16BE(1234, 2);
  head.writeUInt32BE(90000, 4);
  head.writeUInt32BE(0xdeadbeef, 8);
  const ext = o.ext ? Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x40, 0x30, 0x00, 0x00]) : Buffer.alloc(0);
  const pad = o.padding ? Buffer.from([...Array(o.padding - 1).fill(0), o.padding]) : Buffer.alloc(0);
  return Buffer.concat([head, ext, Buffer.from(payload), pad]);
}

test('a keyframe start in non-flexible mode with layer indices and a scalability structure', () => {
  // I P=0 L F=0 B E=0 V: picture ID 0x8123 (15 bits), TID/SID byte, TL0PICIDX, SS with one
  // spatial layer, sizes (Y) and no picture group; then the VP9 frame bytes.
  const payload = [0xaa, 0x81, 0x23, 0x00, 0x07, 0x10, 0x02, 0x80, 0x01, 0x68, 0x82, 0x49, 0x83];
  const d = parseVp9Descriptor(Buffer.from(payload));
  assert.ok(d);
  assert.equal(d.payloadOffset, 10);
  assert.deepEqual([...(d.pictureId ?? [])], [0x81, 0x23]);
  assert.equal(d.keyframeStart, true);
  assert.equal(d.endOfFrame, false);
});

test('an inter frame in flexible mode skips its reference diffs', () => {
  // I P L F B E: 7-bit picture ID, layer byte (no TL0PICIDX in flexible mode), two P_DIFFs.
  const d = parseVp9Descriptor(Buffer.from([0xfc, 0x05, 0x00, 0x03, 0x02, 0xab, 0xcd]));
  assert.ok(d);
  assert.equal(d.payloadOffset, 5);
  assert.equal(d.keyframeStart, false);
  assert.equal(d.startOfFrame && d.endOfFrame, true);
});

test('truncated descriptors are refused', () => {
  assert.equal(parseVp9Descriptor(Buffer.from([0x80])), null);
  assert.equal(parseVp9Descriptor(Buffer.from([0x80, 0x81])), null, 'two-byte picture ID cut short');
  assert.equal(parseVp9Descriptor(Buffer.from([0x8c, 0x01])), null, 'no VP9 data after the descriptor');
});

test('descriptors are reduced to what ffmpeg 5.1 reads alike: I, P, B, E=marker, picture ID, payload', () => {
  const out = toFfmpegVp9Packet(
    rtp([0xaa, 0x81, 0x23, 0x00, 0x07, 0x10, 0x02, 0x80, 0x01, 0x68, 0x82, 0x49], { marker: true, ext: true }),
    98,
  );
  assert.ok(out);
  const header = 12 + 8;
  assert.deepEqual([...out.subarray(0, header)], [...rtp([], { marker: true, ext: true })], 'RTP header and extension untouched');
  assert.deepEqual([...out.subarray(header)], [0x8c, 0x81, 0x23, 0x82, 0x49]);
  // Chrome's inter frame in flexible mode: I P F B, one P_DIFF octet, which ffmpeg would read as payload.
  const inter = toFfmpegVp9Packet(rtp([0xd8, 0x05, 0x02, 0x11, 0x22], { marker: false }), 98);
  assert.deepEqual([...inter!.subarray(12)], [0xc8, 0x05, 0x11, 0x22], 'P_DIFF gone, F cleared, no E without the marker');
});

test('spatial SVC: only the base layer is kept, its frames ending at its own E bit', () => {
  // I P L F=0 B E: picture ID, layer byte TID=0 SID=0, TL0PICIDX; no marker (upper layers follow).
  const base = toFfmpegVp9Packet(rtp([0xec, 0x05, 0x00, 0x07, 0xab], { marker: false }), 98);
  assert.ok(base);
  assert.equal(base[1]! & 0x80, 0x80, 'the base layer frame now ends the picture for ffmpeg');
  assert.deepEqual([...base.subarray(12)], [0xcc, 0x05, 0xab]);
  // The same picture's SID 1 frame (layer byte 0x02), with the marker.
  assert.equal(toFfmpegVp9Packet(rtp([0xec, 0x05, 0x02, 0x07, 0xcd], { marker: true }), 98), null);
});

test('padding goes with the old descriptor; other payload types and non-RTP are dropped', () => {
  const padded = toFfmpegVp9Packet(rtp([0x0c, 0x42], { marker: true, padding: 4 }), 98);
  assert.ok(padded);
  assert.equal(padded[0]! & 0x20, 0, 'P bit cleared');
  assert.deepEqual([...padded.subarray(12)], [0x0c, 0x42]);
  assert.equal(toFfmpegVp9Packet(rtp([0x0c, 0x42]), 96), null);
  assert.equal(toFfmpegVp9Packet(Buffer.from([1, 2, 3]), 98), null);
});

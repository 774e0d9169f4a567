import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage, encodeMessage } from '../messages.js';
import { CaptureRecordingSchema, FinalizeRecordingSchema, JOB_QUEUE, JOB_SCHEMAS, jobIds } from './jobs.js';

const capture = {
  v: 1,
  recordingId: '01J0000000000000000000000A',
  room: 'demo',
  sfuInstance: 'sfu-1',
  firstSegment: 0,
  tracks: [
    {
      trackId: 'p1',
      kind: 'video',
      participant: 'alice',
      codec: { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 },
      ssrc: 1234,
    },
  ],
};

test('a capture payload parses, with codec parameters defaulted', () => {
  const parsed = CaptureRecordingSchema.parse(capture);
  assert.deepEqual(parsed.tracks[0]?.codec.parameters, {});
});

test('capture payloads the recorder must not act on are refused', () => {
  const bad: unknown[] = [
    { ...capture, v: 2 },
    { ...capture, recordingId: '../../etc/passwd' },
    { ...capture, room: 'a room' },
    { ...capture, firstSegment: -1 },
    { ...capture, attempt: -1 },
    { ...capture, tracks: [{ ...capture.tracks[0], kind: 'data' }] },
    { ...capture, tracks: [{ ...capture.tracks[0], codec: { ...capture.tracks[0]!.codec, mimeType: 'video/VP8\r\na=inject' } }] },
    { ...capture, tracks: [{ ...capture.tracks[0], codec: { ...capture.tracks[0]!.codec, payloadType: 200 } }] },
  ];
  for (const b of bad) assert.equal(CaptureRecordingSchema.safeParse(b).success, false, JSON.stringify(b));
  // Runs get their tracks from their own tap: a payload without tracks is a valid run.
  assert.equal(CaptureRecordingSchema.safeParse({ ...capture, tracks: [] }).success, true);
  assert.equal(FinalizeRecordingSchema.safeParse({ v: 1, recordingId: 'x' }).success, false);
});

test('every job has a queue, and job ids derive from the recording so duplicates collapse', () => {
  for (const name of Object.keys(JOB_SCHEMAS)) assert.ok(JOB_QUEUE[name as keyof typeof JOB_QUEUE], name);
  assert.equal(jobIds.capture(capture.recordingId, 0), jobIds.capture(capture.recordingId, 0));
  assert.notEqual(jobIds.capture(capture.recordingId, 0), jobIds.capture(capture.recordingId, 3));
  assert.equal(jobIds.finalize(capture.recordingId), `finalize-${capture.recordingId}`);
});

test('SFU <-> recorder messages round-trip; anything else decodes to null', () => {
  const m = { type: 'first-frame', recordingId: capture.recordingId, firstSegment: 0 } as const;
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  assert.equal(decodeMessage('not json'), null);
  assert.equal(decodeMessage(JSON.stringify({ type: 'explode', recordingId: 'x' })), null);
  assert.throws(() => encodeMessage({ type: 'stop' } as never));
});

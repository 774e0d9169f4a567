import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptedSenders, relaySource } from './sources.js';

const src = (ip: string, trackId = 'v') => ({ trackId, ip, rtpPort: 40000 });

test("ffmpeg accepts the SFU's addresses and the recorder's own (its BYE at stop)", () => {
  assert.deepEqual(acceptedSenders([src('10.0.0.7', 'v'), src('10.0.0.7', 'a')], '10.0.0.5'), ['10.0.0.7', '10.0.0.5']);
});

test('no filter when the SFU did not say, or sends from an unspecified address', () => {
  assert.equal(acceptedSenders([], '10.0.0.5'), undefined);
  assert.equal(acceptedSenders([src('0.0.0.0')], '10.0.0.5'), undefined);
  assert.equal(acceptedSenders([src('::')], '10.0.0.5'), undefined);
  assert.equal(acceptedSenders([src('sfu.local')], '10.0.0.5'), undefined);
});

test("a relay accepts its track's SFU address and RTP port", () => {
  assert.deepEqual(relaySource([src('10.0.0.7', 'v')], 'v'), { accept: { ip: '10.0.0.7', rtpPort: 40000 } });
  assert.deepEqual(relaySource([src('10.0.0.7', 'v')], 'a'), {});
  assert.deepEqual(relaySource([src('0.0.0.0', 'v')], 'v'), {});
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.js';
import { isSafeOutputFile, parseOutputList, parseRecordingOptions } from './outputs.js';
import { rewritePlaylist, signOutputToken, verifyOutputToken } from './outputTokens.js';

test('TRANSCODE_OUTPUTS lists: known names, deduplicated, "none" for raw only', () => {
  assert.deepEqual(parseOutputList('mp4, HLS,poster,mp4'), ['mp4', 'hls', 'poster']);
  assert.deepEqual(parseOutputList('none'), []);
  assert.throws(() => parseOutputList('mp4,gif'), /"gif" is not an output/);
});

test('start request options: outputs and webhook URLs checked, unknown fields refused', () => {
  assert.deepEqual(parseRecordingOptions(undefined), {});
  assert.deepEqual(parseRecordingOptions({}), {});
  assert.deepEqual(parseRecordingOptions({ outputs: ['mp4'], webhookUrls: ['https://hooks.example/x'] }), {
    outputs: ['mp4'],
    webhookUrls: ['https://hooks.example/x'],
  });
  for (const bad of [
    { outputs: ['gif'] },
    { webhookUrls: ['ftp://x/y'] },
    { webhookUrls: ['https://u:p@x/y'] },
    { extra: 1 },
    { outputs: 'mp4' },
  ]) {
    assert.throws(
      () => parseRecordingOptions(bad),
      (e: unknown) => e instanceof AppError && e.status === 400 && e.code === 'invalid_options',
      JSON.stringify(bad),
    );
  }
});

test('output file names cannot leave their directory', () => {
  for (const ok of ['master.m3u8', 'stream_0_001.ts', 'sprite.vtt']) assert.ok(isSafeOutputFile(ok), ok);
  for (const bad of ['..', '../manifest.json', '.hidden', 'a/b', 'a..b', '', 'x'.repeat(65), 'a%2f..'])
    assert.ok(!isSafeOutputFile(bad), bad);
});

test('output tokens open one output of one recording until they expire', () => {
  const t = signOutputToken('k', 'REC', 'hls', 60, 1000);
  assert.ok(verifyOutputToken('k', 'REC', 'hls', t, 1059));
  assert.ok(!verifyOutputToken('k', 'REC', 'hls', t, 1061), 'expired');
  assert.ok(!verifyOutputToken('k', 'REC', 'mp4', t, 1001), 'another output');
  assert.ok(!verifyOutputToken('k', 'OTHER', 'hls', t, 1001), 'another recording');
  assert.ok(!verifyOutputToken('k2', 'REC', 'hls', t, 1001), 'another key');
  assert.ok(!verifyOutputToken('k', 'REC', 'hls', t.replace(/^\d+/, '99999'), 1001), 'changed expiry');
  assert.ok(!verifyOutputToken('k', 'REC', 'hls', 'garbage', 1001));
});

test('playlists: relative URIs get the prefix and the token, absolute ones are left alone', () => {
  const master =
    '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nstream_1.m3u8\n\n#EXT-X-MAP:URI="init.mp4"\nhttps://cdn.example/x.ts\n';
  assert.equal(
    rewritePlaylist(master, { prefix: 'hls/', token: 'a.b' }),
    '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\nhls/stream_1.m3u8?token=a.b\n\n#EXT-X-MAP:URI="hls/init.mp4?token=a.b"\nhttps://cdn.example/x.ts\n',
  );
  assert.equal(rewritePlaylist('#EXTINF:4.0,\nseg_000.ts\n', {}), '#EXTINF:4.0,\nseg_000.ts\n');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAILURE_CODES } from './lifecycle.js';
import { newRecording, presentRecording, transition } from './model.js';
import { presentError, publicFailureMessage } from './publicErrors.js';

test('a failed recording is presented with its code and a fixed message, never the stored detail', () => {
  const detail =
    'uploading raw.webm failed: S3 PutObject on bucket "rec-prod" failed: HTTP 403 at http://10.0.0.7:9000 (/srv/app/node_modules/x.js:12)';
  const rec = transition(newRecording({ id: '01J', room: 'a', trigger: 'api', now: new Date(0) }), 'failed', new Date(1), {
    error: { code: 'upload_failed', message: detail },
  });
  const withOutput = {
    ...rec,
    outputs: [
      {
        name: 'mp4',
        file: 'mp4.mp4',
        contentType: 'video/mp4',
        size: null,
        status: 'failed' as const,
        progress: 0,
        durationMs: null,
        error: { code: 'ffmpeg_failed', message: 'ffmpeg exited with 1: /tmp/rec/01J/raw.webm: Invalid data' },
      },
    ],
  };
  const view = presentRecording(withOutput);
  assert.deepEqual(view.error, { code: 'upload_failed', message: publicFailureMessage('upload_failed') });
  assert.equal(view.outputs[0]?.error?.code, 'ffmpeg_failed');
  const text = JSON.stringify(view);
  for (const leak of ['rec-prod', '10.0.0.7', 'node_modules', '/tmp/', 'Invalid data']) assert.ok(!text.includes(leak), leak);
});

test('every failure code has its own message; unknown or malformed codes get generic ones', () => {
  const generic = publicFailureMessage('no_such_code');
  for (const code of FAILURE_CODES) assert.notEqual(publicFailureMessage(code), generic, code);
  assert.equal(presentError({ code: 'made_up', message: 'secret' })?.message, generic);
  assert.deepEqual(presentError({ code: 'Error: ECONNREFUSED 10.0.0.7:6379', message: 'x' }), { code: 'internal', message: generic });
  assert.equal(presentError(null), null);
  assert.equal(presentError(undefined), null);
});

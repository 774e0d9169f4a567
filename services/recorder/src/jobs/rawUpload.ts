// The raw output's shared multipart upload (S3). Every capture run of a recording sends its
// continuous file's parts into one upload for the raw output's key, each run in its own block of
// part numbers, while it records. A run that is not the last parks (ContinuousFile.park): it
// keeps back only what must change at the end (its head, its tail). Finalize then completes the
// upload from every run's parts plus those few bytes (finalize.ts, mkv/parked.ts): stop → ready
// costs the same whatever the length and however many runs, with no copy inside the storage.
//
// This module is the upload's registry in Redis: which upload, which run has which block.
import type { SharedUploadSlot } from '@live-webrtc/shared';
import type { RecorderDeps } from './deps.js';

/** Part numbers per run: 20 runs of up to 498 parts (2.4 GiB at 5 MiB), part 10,000 for the end. */
export const BLOCK_PARTS = 500;
export const MAX_BLOCKS = 20;
/** A recording's registry outlives no recording: deleted at ready/failed; this is the safety net. */
const TTL_S = 7 * 24 * 3600;

type Deps = Pick<RecorderDeps, 'redis' | 'keys' | 'storage'>;

export interface RawUpload {
  key: string;
  uploadId: string;
}

/** The recording's shared upload, if one was started. */
export async function rawUploadOf(d: Deps, id: string): Promise<RawUpload | null> {
  const raw = await d.redis.hget(d.keys.rawUpload(id), 'upload');
  return raw ? (JSON.parse(raw) as RawUpload) : null;
}

/**
 * A block of the recording's shared upload for `run` (the upload is started by the first run
 * that asks). Null when the storage has no parts (local), the upload is for another key (a run
 * with another container), or every block is taken: the run then writes an object of its own.
 */
export async function joinRawUpload(d: Deps, id: string, key: string, contentType: string, run: number): Promise<SharedUploadSlot | null> {
  const uploads = d.storage.sharedUploads;
  if (!uploads) return null;
  const h = d.keys.rawUpload(id);
  let up = await rawUploadOf(d, id);
  if (!up) {
    const created: RawUpload = { key, uploadId: await uploads.create(key, contentType) };
    if (await d.redis.hsetnx(h, 'upload', JSON.stringify(created))) up = created;
    else {
      // Another run (a handover's) started one first: use theirs.
      await uploads.abort(key, created.uploadId).catch(() => {});
      up = await rawUploadOf(d, id);
    }
  }
  await d.redis.expire(h, TTL_S);
  if (!up || up.key !== key) return null;
  const block = (await d.redis.hincrby(h, 'blocks', 1)) - 1;
  if (block >= MAX_BLOCKS) return null;
  await d.redis.hset(h, `run:${run}`, block);
  return { uploadId: up.uploadId, firstPart: block * BLOCK_PARTS + 1, lastPart: (block + 1) * BLOCK_PARTS - 1 };
}

/** A run that sent nothing usable (no media, ffmpeg killed) leaves: it does not count as another run. */
export async function leaveRawUpload(d: Deps, id: string, run: number): Promise<void> {
  await d.redis.hdel(d.keys.rawUpload(id), `run:${run}`);
}

/** Whether `run` is the only run in the upload (it may then complete it with its own file). */
export async function aloneInRawUpload(d: Deps, id: string, run: number): Promise<boolean> {
  const fields = await d.redis.hkeys(d.keys.rawUpload(id));
  return !fields.some((f) => f.startsWith('run:') && f !== `run:${run}`);
}

/**
 * The recording is ready or failed: the registry goes, and the upload is aborted (a no-op once
 * completed; otherwise its parts would be kept, and billed, until a bucket rule removes them).
 */
export async function forgetRawUpload(d: Deps, id: string): Promise<void> {
  const up = await rawUploadOf(d, id);
  if (up) await d.storage.sharedUploads?.abort(up.key, up.uploadId).catch(() => {});
  await d.redis.del(d.keys.rawUpload(id));
}

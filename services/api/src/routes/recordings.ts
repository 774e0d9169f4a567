// /api/v1/recordings: list, get, stop, pause, resume, outputs (listed, downloaded with Range or a presigned
// redirect, HLS served so a player can play it from here), delete.
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import {
  AppError,
  contentTypeOfFile,
  IdSchema,
  isSafeOutputFile,
  notFound,
  OUTPUT_SPECS,
  parseInput,
  presentRecording,
  recordingKeys,
  RecordingLifecycle,
  RecordingStatusSchema,
  rewritePlaylist,
  RoomNameSchema,
  signOutputToken,
  unauthorized,
  verifyOutputToken,
  type ByteRange,
  type Grant,
  type Recording,
  type RecordingOutput,
  type TranscodeOutputName,
} from '@live-webrtc/shared';
import type { ApiDeps } from '../deps.js';
import { authenticated, principalOf } from '../http/auth.js';

export const ListQuerySchema = z.object({
  room: RoomNameSchema.optional(),
  status: RecordingStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: IdSchema.optional(),
});

/** Parses a single "bytes=a-b" range against `size`; null = whole file; throws 416. */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // not a form we serve: send the whole file
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) {
    throw new AppError(416, 'range_not_satisfiable', `range ${header} is outside the file's ${size} bytes`);
  }
  return { start, end };
}

const OUTPUT_NAME_RE = /^[a-z0-9_-]{1,32}$/;
const outputDir = (name: string): string | undefined => OUTPUT_SPECS[name as TranscodeOutputName]?.dir;
const isPlaylist = (file: string): boolean => file.endsWith('.m3u8');

export function recordingRoutes(d: ApiDeps): Router {
  const r = new Router({ prefix: '/api/v1/recordings' });
  const idParam = (v: string | undefined): string => parseInput(IdSchema, v, 'id');
  const outputParam = (v: string | undefined): string => {
    if (!v || !OUTPUT_NAME_RE.test(v)) throw notFound('output_not_found', 'no such output');
    return v;
  };

  // Output files may be fetched with a signed ?token= instead of credentials (players that
  // cannot set headers); the route checks it. Everything else authenticates as usual.
  const tokenRequest = (ctx: Koa.Context): boolean =>
    d.auth.enabled && typeof ctx.query['token'] === 'string' && ctx.method === 'GET' && /\/outputs\/[^/]+/.test(ctx.path);
  r.use(async (ctx, next) => (tokenRequest(ctx) ? next() : authenticated(d.auth)(ctx, next)));
  /** The recording, once the caller may `grant` on its room (room tokens see their room only). */
  const recordingFor = async (ctx: Koa.Context, grant: Grant) => {
    const rec = await d.store.mustGet(idParam(ctx.params['id']));
    const principal = principalOf(ctx);
    // Another room's recording does not exist for a room token (no probing for ids).
    if (principal.room !== undefined && principal.room !== rec.room)
      throw notFound('recording_not_found', `no recording with id ${rec.id}`);
    d.auth.authorize(principal, grant, rec.room);
    return rec;
  };

  r.get('/', async (ctx) => {
    const q = parseInput(ListQuerySchema, ctx.query, 'query');
    const principal = principalOf(ctx);
    // A room token lists its own room's recordings (asking for another room is a 403).
    q.room ??= principal.room;
    d.auth.authorize(principal, 'record', q.room);
    const page = await d.store.list(q);
    ctx.body = { items: page.items.map(presentRecording), nextCursor: page.nextCursor };
  });

  r.get('/:id', async (ctx) => {
    ctx.body = presentRecording(await recordingFor(ctx, 'record'));
  });

  const lifecycle = new RecordingLifecycle(d.store, d.redis, d.keys, undefined, d.queues);
  r.post('/:id/stop', async (ctx) => {
    const { id } = await recordingFor(ctx, 'record');
    const rec = await lifecycle.stop(id);
    ctx.status = 202;
    ctx.body = presentRecording(rec);
  });

  // Pause and resume: 409 invalid_state from the lifecycle when the recording is not active /
  // not paused.
  r.post('/:id/pause', async (ctx) => {
    const { id } = await recordingFor(ctx, 'record');
    const rec = await lifecycle.pause(id);
    d.logger.info({ recordingId: id, room: rec.room }, 'recording paused');
    ctx.body = presentRecording(rec);
  });

  r.post('/:id/resume', async (ctx) => {
    const { id } = await recordingFor(ctx, 'record');
    const rec = await lifecycle.resume(id);
    d.logger.info(
      {
        recordingId: id,
        room: rec.room,
        pausedMs: rec.pauses.at(-1)?.resumedAt ? Date.parse(rec.pauses.at(-1)!.resumedAt!) - Date.parse(rec.pauses.at(-1)!.at) : null,
      },
      'recording resumed',
    );
    ctx.body = presentRecording(rec);
  });

  /** The recording and output a file request is about: by signed token, or by the caller's credentials. */
  const outputFor = async (ctx: Koa.Context): Promise<{ rec: Recording; out: RecordingOutput; token?: string }> => {
    const name = outputParam(ctx.params['output']);
    let rec: Recording;
    let token: string | undefined;
    if (tokenRequest(ctx)) {
      token = String(ctx.query['token']);
      const id = idParam(ctx.params['id']);
      if (!d.outputTokens.secret || !verifyOutputToken(d.outputTokens.secret, id, name, token))
        throw unauthorized('invalid or expired output token');
      rec = await d.store.mustGet(id);
    } else {
      rec = await recordingFor(ctx, 'record');
    }
    const out = rec.outputs.find((o) => o.name === name);
    if (!out) throw notFound('output_not_found', `recording ${rec.id} has no output "${name}"`);
    if (out.status !== 'ready') throw new AppError(409, 'output_not_ready', `output "${out.name}" is ${out.status}`);
    return token ? { rec, out, token } : { rec, out };
  };

  /** Streams one stored file (Range, 206/416), or redirects to a presigned URL when configured. */
  const sendFile = async (
    ctx: Koa.Context,
    rec: Recording,
    file: string,
    contentType: string,
    o: { attachment: boolean; playlist?: { prefix?: string; token?: string } },
  ): Promise<void> => {
    const key = recordingKeys.output(rec.id, file);
    const filename = `${rec.room}-${rec.id}-${file.replace(/\//g, '-')}`;
    // Playlists are never redirected: their relative URIs must resolve here.
    if (d.presign && !o.playlist) {
      const url = await d.storage.presignGet(key, d.presignTtlSeconds, o.attachment ? filename : undefined);
      if (url) {
        ctx.redirect(url);
        return;
      }
    }
    if (o.playlist) {
      const bytes = await d.storage.getBytes(key);
      if (!bytes) throw notFound('output_missing', `${file} is not in storage`);
      ctx.type = contentType;
      ctx.set('Cache-Control', 'private, max-age=60');
      ctx.body = rewritePlaylist(bytes.toString('utf8'), o.playlist);
      return;
    }
    const info = await d.storage.stat(key);
    if (!info) throw notFound('output_missing', `${file} is not in storage`);
    ctx.set('Accept-Ranges', 'bytes');
    let range: ByteRange | null;
    try {
      range = parseRange(ctx.get('Range') || undefined, info.size);
    } catch (err) {
      // RFC 9110: a 416 names the current length.
      ctx.set('Content-Range', `bytes */${info.size}`);
      throw err;
    }
    const stream = await d.storage.getStream(key, range ?? undefined);
    if (!stream) throw notFound('output_missing', `${file} is not in storage`);
    ctx.set('Content-Disposition', `${o.attachment ? 'attachment' : 'inline'}; filename="${filename}"`);
    ctx.type = contentType;
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
      ctx.length = range.end - range.start + 1;
    } else {
      ctx.length = info.size;
    }
    ctx.body = stream;
  };

  // Every output with its status, progress, ETA, size and content type, and where to get it
  // (a token-signed playback URL for HLS when the server requires credentials).
  r.get('/:id/outputs', async (ctx) => {
    const rec = await recordingFor(ctx, 'record');
    const base = `/api/v1/recordings/${rec.id}/outputs`;
    ctx.body = {
      items: presentRecording(rec).outputs.map((o) => {
        const token =
          d.auth.enabled && d.outputTokens.secret
            ? signOutputToken(d.outputTokens.secret, rec.id, o.name, d.outputTokens.ttlSeconds)
            : undefined;
        const url = `${base}/${o.name}`;
        return { ...o, url, ...(token ? { signedUrl: `${url}?token=${token}` } : {}) };
      }),
    };
  });

  r.get('/:id/outputs/:output', async (ctx) => {
    const { rec, out, token } = await outputFor(ctx);
    const playlist = isPlaylist(out.file);
    // The master is served at …/outputs/hls: its renditions resolve to …/outputs/hls/{file}.
    const dir = outputDir(out.name);
    await sendFile(ctx, rec, out.file, out.contentType, {
      attachment: !playlist && !out.contentType.startsWith('image/'),
      ...(playlist ? { playlist: { ...(dir ? { prefix: `${dir}/` } : {}), ...(token ? { token } : {}) } } : {}),
    });
  });

  // The files of multi-file outputs: HLS playlists and segments, the sprite's image and VTT.
  r.get('/:id/outputs/:output/:file', async (ctx) => {
    const { rec, out, token } = await outputFor(ctx);
    const file = ctx.params['file'] ?? '';
    const dir = outputDir(out.name);
    if (!dir || !isSafeOutputFile(file)) throw notFound('output_file_not_found', `output "${out.name}" has no file "${file}"`);
    await sendFile(ctx, rec, `${dir}/${file}`, contentTypeOfFile(file), {
      attachment: false,
      ...(isPlaylist(file) ? { playlist: token ? { token } : {} } : {}),
    });
  });

  r.delete('/:id', async (ctx) => {
    const { id } = await recordingFor(ctx, 'admin');
    await d.store.delete(id);
    ctx.status = 204;
  });

  return r;
}

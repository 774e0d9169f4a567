// /api/v1/recordings: list, get, stop, download outputs, delete.
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import {
  AppError,
  IdSchema,
  notFound,
  parseInput,
  presentRecording,
  recordingKeys,
  RecordingStatusSchema,
  requestStop,
  RoomNameSchema,
  type ByteRange,
  type Grant,
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

export function recordingRoutes(d: ApiDeps): Router {
  const r = new Router({ prefix: '/api/v1/recordings' });
  const idParam = (v: string | undefined): string => parseInput(IdSchema, v, 'id');

  r.use(authenticated(d.auth));
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

  r.post('/:id/stop', async (ctx) => {
    const { id } = await recordingFor(ctx, 'record');
    const rec = await requestStop(d.store, d.redis, d.keys, id);
    ctx.status = 202;
    ctx.body = presentRecording(rec);
  });

  r.get('/:id/outputs/:output', async (ctx) => {
    const rec = await recordingFor(ctx, 'record');
    const out = rec.outputs.find((o) => o.name === ctx.params['output']);
    if (!out) throw notFound('output_not_found', `recording ${rec.id} has no output "${ctx.params['output']}"`);
    if (out.status !== 'ready') throw new AppError(409, 'output_not_ready', `output "${out.name}" is ${out.status}`);
    const key = recordingKeys.output(rec.id, out.file);
    const filename = `${rec.room}-${rec.id}-${out.file}`;
    if (d.downloadRedirect) {
      const url = await d.storage.presignGet(key, 600, filename);
      if (url) {
        ctx.redirect(url);
        return;
      }
    }
    const info = await d.storage.stat(key);
    if (!info) throw notFound('output_missing', `output "${out.name}" is not in storage`);
    const range = parseRange(ctx.get('Range') || undefined, info.size);
    const stream = await d.storage.getStream(key, range ?? undefined);
    if (!stream) throw notFound('output_missing', `output "${out.name}" is not in storage`);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.type = out.contentType;
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
      ctx.length = range.end - range.start + 1;
    } else {
      ctx.length = info.size;
    }
    ctx.body = stream;
  });

  r.delete('/:id', async (ctx) => {
    const { id } = await recordingFor(ctx, 'admin');
    await d.store.delete(id);
    ctx.status = 204;
  });

  return r;
}

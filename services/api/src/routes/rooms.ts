// /api/v1/rooms: every instance's rooms, from the shared registry; starting a recording is
// relayed to the instance that owns the room.
import Router from '@koa/router';
import type Koa from 'koa';
import {
  AppError,
  CALLER_CREDENTIAL_HEADER,
  credentialsFrom,
  currentTraceparent,
  injectTraceContext,
  notFound,
  parseRecordingOptions,
  presentRecording,
  roomFromPath,
  unavailable,
  type RoomInfo,
  type RoomRegistry,
} from '@live-webrtc/shared';
import type { ApiDeps } from '../deps.js';
import { authenticated, principalOf, requireGrant } from '../http/auth.js';
import { assertAllowedInternalUrl } from '../http/internalUrls.js';
import { saveOptionsOrRetry } from './saveOptions.js';
import { parsePrefer, waitUntilCapturing } from './startWait.js';

const present = (r: RoomInfo) => ({
  name: r.name,
  publishers: r.publishers,
  subscribers: r.subscribers,
  recordingId: r.recordingId,
  instance: r.instance,
  createdAt: r.createdAt,
});

async function mustLocate(registry: RoomRegistry, name: string) {
  const found = await registry.locate(name);
  if (!found) throw notFound('room_not_found', `room "${name}" does not exist`);
  return found;
}

/**
 * The body of a start's 201: the recording once it is capturing (`active`, its file has begun),
 * or as it is when RECORDING_START_WAIT_MS (or the client's `Prefer: wait=N`) passed, or at
 * once with `Prefer: respond-async`. A slow start is never an error: anything going wrong while
 * waiting answers what the SFU said.
 */
async function startAnswer(d: ApiDeps, ctx: Koa.Context, id: string, sfuBody: unknown): Promise<unknown> {
  const prefer = parsePrefer(ctx.headers['prefer']);
  if (prefer.respondAsync) {
    ctx.set('Preference-Applied', 'respond-async');
    return sfuBody;
  }
  let timeoutMs = d.startWaitMs;
  if (prefer.waitSeconds !== null && prefer.waitSeconds * 1000 < timeoutMs) {
    timeoutMs = prefer.waitSeconds * 1000;
    ctx.set('Preference-Applied', `wait=${prefer.waitSeconds}`);
  }
  if (timeoutMs <= 0) return sfuBody;
  // The client went away: stop waiting (nothing will read the answer).
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  ctx.res.once('close', onClose);
  try {
    const rec = await waitUntilCapturing(d, id, { timeoutMs, signal: gone.signal });
    return rec ? presentRecording(rec) : sfuBody;
  } catch (err) {
    d.logger.warn({ err, recordingId: id }, 'could not wait for the recording to start capturing; answering at once');
    return sfuBody;
  } finally {
    ctx.res.off('close', onClose);
  }
}

export function roomRoutes(d: ApiDeps): Router {
  const r = new Router({ prefix: '/api/v1/rooms' });

  r.get('/', authenticated(d.auth), async (ctx) => {
    const principal = principalOf(ctx);
    d.auth.authorize(principal, 'subscribe', principal.room);
    // A room token sees its own room only.
    const rooms = (await d.registry.list()).filter((room) => principal.room === undefined || room.name === principal.room);
    ctx.body = { rooms: rooms.map(present) };
  });

  r.get('/:room', requireGrant(d.auth, 'subscribe'), async (ctx) => {
    const { room } = await mustLocate(d.registry, roomFromPath(ctx.params['room']));
    ctx.body = present(room);
  });

  r.post('/:room/recordings', requireGrant(d.auth, 'record'), async (ctx) => {
    const name = roomFromPath(ctx.params['room']);
    // Optional body: {outputs?: [...], webhookUrls?: [...]}; checked before anything starts.
    const options = parseRecordingOptions((ctx.request as { body?: unknown }).body);
    const { owner } = await mustLocate(d.registry, name);
    assertAllowedInternalUrl(d.internalUrlAllowed, owner.internalUrl);
    // The SFU checks the caller's grants again (one door, but two locks).
    const caller = credentialsFrom(ctx.headers);
    let res: Response;
    try {
      res = await fetch(`${owner.internalUrl}/internal/v1/rooms/${name}/recordings`, {
        method: 'POST',
        headers: injectTraceContext({ ...d.internalAuthHeaders, ...(caller ? { [CALLER_CREDENTIAL_HEADER]: caller } : {}) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      throw unavailable('sfu_unavailable', `the media server owning room "${name}" is not reachable`);
    }
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    if (!res.ok) {
      const e = body?.error;
      throw new AppError(res.status, e?.code ?? 'sfu_error', e?.message ?? `media server answered ${res.status}`);
    }
    const id = (body as { id: string }).id;
    // Saved next to the manifest: the transcoder reads the outputs, webhook delivery the URLs,
    // and both continue this request's trace.
    const traceparent = currentTraceparent();
    // The recording has started: storage down now is retried in the background, not a 500.
    await saveOptionsOrRetry(d.storage, id, { ...options, ...(traceparent ? { traceparent } : {}) }, d.logger);
    ctx.status = 201;
    ctx.set('Location', `/api/v1/recordings/${id}`);
    ctx.body = await startAnswer(d, ctx, id, body);
  });

  return r;
}

// The SFU's HTTP surface: WHIP (/api/whip/publish/{room}) and WHEP (/api/whep/play/{room})
// with their session URLs, and the internal control routes the API calls
// (/internal/v1/rooms/...). A room owned by another instance answers 307 to that instance.
import Router, { type RouterContext } from '@koa/router';
import Koa from 'koa';
import {
  AppError,
  badRequest,
  errorMiddleware,
  metricsMiddleware,
  notFound,
  opsMiddleware,
  tracingMiddleware,
  presentRecording,
  readTextBody,
  roomFromPath,
  parseInput,
  IdSchema,
  OpenTapRequestSchema,
  ConnectTapRequestSchema,
  type Authenticator,
  type Cidr,
  type Grant,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type RecordingStore,
} from '@live-webrtc/shared';
import type { Room, Session } from '../media/room.js';
import type { RoomManager } from '../media/rooms.js';
import type { RecordingController } from '../media/recordings.js';
import type { WorkerCensus } from '../media/workers.js';
import { newEtag, publish, view, type TransportSettings } from '../media/sessions.js';
import { SdpError } from '../media/sdp/index.js';
import { buildIceRestartFragment, parseTrickle } from '../media/sdp/trickle.js';
import { clientAddress, clientIpOf, cors, internalGuard, mediaSectionCount, principalOf, SessionsPerIp } from './guards.js';
import { iceServersFor, linkHeader, type IceServerConfig } from './iceServers.js';

export interface SfuHttpDeps {
  rooms: RoomManager;
  recordings: RecordingController;
  recordingStore: RecordingStore;
  auth: Authenticator;
  transport: TransportSettings;
  ice: IceServerConfig;
  maxSdpBytes: number;
  metrics: Metrics;
  checks: Record<string, ReadinessCheck>;
  logger: Logger;
  /** What the mediasoup workers hold (GET /internal/v1/media: the soak's leak checks). */
  census?: () => Promise<WorkerCensus[]>;
  /** Called for every session created, so the service can count them. */
  onSession?: (s: Session) => void;
  /** INTERNAL_TOKEN: the only credential /internal/* accepts. */
  internalToken?: string | undefined;
  trustedProxies?: Cidr[];
  corsOrigins?: string[];
  limits?: { maxRooms: number; maxSessionsPerIp: number; maxMediaSections: number };
  metricsToken?: string | undefined;
}

const KINDS = {
  whip: { base: '/api/whip/publish', grant: 'publish' as Grant, kind: 'publish' as const },
  whep: { base: '/api/whep/play', grant: 'subscribe' as Grant, kind: 'view' as const },
};

/**
 * mediasoup's answers to invalid parameters: an error from its worker channel on a transport
 * call ("... [method:transport.produce]"), a TypeError from its own ORTC checks, or an
 * UnsupportedError.
 */
function refusedByMediasoup(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'UnsupportedError') return true;
  // The worker's refusal of a transport call made with the offer's parameters.
  if (/\[method:transport\.(produce|consume|connect)\]/.test(err.message)) return true;
  return err instanceof TypeError && /mediasoup[/\\]lib[/\\]/.test(err.stack ?? '');
}

/** A run attempt from the path: a non-negative integer, else 400. */
function runAttempt(v: string | undefined): number {
  const n = /^\d{1,6}$/.test(v ?? '') ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badRequest('invalid_attempt', 'attempt: expected a non-negative integer');
  return n;
}

/** A small JSON request body (internal routes), 400 when it is not JSON. */
async function readJsonBody(ctx: Koa.Context): Promise<unknown> {
  const text = await readTextBody(ctx, { types: ['application/json'], limit: 16 * 1024 });
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('invalid_body', 'body: not JSON');
  }
}

export function createSfuApp(d: SfuHttpDeps): Koa {
  const app = new Koa();
  // The client address comes from clientAddress() (X-Forwarded-For from TRUSTED_PROXIES only).
  app.proxy = false;
  const router = new Router();
  const limits = d.limits ?? { maxRooms: Infinity, maxSessionsPerIp: Infinity, maxMediaSections: 64 };
  const perIp = new SessionsPerIp(limits.maxSessionsPerIp);

  const sdpError = (err: unknown): never => {
    if (err instanceof SdpError) {
      throw new AppError(err.code === 'unsupported_media' ? 406 : 400, err.code, err.message);
    }
    if (err instanceof Error && /no more available ports|\[method:router\.createWebRtcTransport\]/.test(err.message)) {
      // Every port of RTC_MIN_PORT–RTC_MAX_PORT is taken: a capacity limit, not a server fault
      // (found by bench/scale.mjs: the 9,890th room on 10,000 ports was answered 500). The
      // 3.8.4 worker's refusal arrives without its reason ("no more available ports"), only
      // the method: a transport that the same settings opened before cannot be opened now.
      throw new AppError(503, 'no_free_ports', 'this server has no free RTC port for another session (RTC_MIN_PORT–RTC_MAX_PORT)', true);
    }
    if (refusedByMediasoup(err)) {
      // The worker validated parameters taken from the offer and refused them: the client's
      // fault. Its own words (internals) stay in the log at debug level only.
      d.logger.debug({ err }, 'mediasoup refused parameters from an offer');
      throw new AppError(400, 'bad_sdp', 'the media server refused the parameters of this offer');
    }
    throw err;
  };

  for (const [name, k] of Object.entries(KINDS)) {
    // RFC 9725 §4.1: OPTIONS is for CORS preflight. ICE servers (with TURN credentials) are
    // only in authenticated 201 answers, never in an OPTIONS anyone can send.
    router.options(`${k.base}/:room`, (ctx) => {
      roomFromPath(ctx.params['room']);
      ctx.set('Accept-Post', 'application/sdp');
      ctx.status = 204;
    });

    router.post(`${k.base}/:room`, async (ctx) => {
      const room = roomFromPath(ctx.params['room']);
      const principal = await d.auth.authenticate(ctx.headers);
      d.auth.authorize(principal, k.grant, room);
      const sdp = await readTextBody(ctx, { types: ['application/sdp'], limit: d.maxSdpBytes });
      if (mediaSectionCount(sdp) > limits.maxMediaSections) {
        throw badRequest('too_many_media_sections', `an offer may have at most ${limits.maxMediaSections} m-sections`);
      }
      if (k.kind === 'publish' && !d.rooms.get(room) && d.rooms.count >= limits.maxRooms) {
        throw new AppError(503, 'too_many_rooms', 'this server serves no further rooms (MAX_ROOMS)', true);
      }
      const releaseIp = perIp.acquire(clientIpOf(ctx));
      try {
        if (!(await createSession(ctx, room, sdp, releaseIp))) releaseIp();
      } catch (err) {
        releaseIp();
        throw err;
      }
    });

    /** Answers the POST; true when a session was created (it then holds the client's place). */
    const createSession = async (ctx: RouterContext, room: string, sdp: string, releaseIp: () => void): Promise<boolean> => {
      const where = k.kind === 'publish' ? await d.rooms.getOrCreate(room) : await d.rooms.locate(room);
      if (where === null) throw notFound('no_publisher', `room "${room}" has no publisher`);
      if ('remote' in where) {
        ctx.status = 307;
        ctx.redirect(`${where.remote.publicUrl}${ctx.path}`);
        return false;
      }
      const r: Room = where.local;
      d.recordings.wire(r);
      let result;
      try {
        result = k.kind === 'publish' ? await publish(r, sdp, d.transport, d.logger) : await view(r, sdp, d.transport, d.logger);
      } catch (err) {
        // A room created for this request and left empty is released again.
        if (r.empty) r.close();
        sdpError(err);
      }
      if (!result) return false;
      result.session.clientIp = clientIpOf(ctx);
      if (result.session.transport.closed) releaseIp();
      else result.session.transport.observer.once('close', releaseIp);
      d.onSession?.(result.session);
      d.logger.info({ room, sessionId: result.session.id, kind: name }, 'session created');
      ctx.status = 201;
      ctx.type = 'application/sdp';
      ctx.set('Location', `${k.base}/${room}/${result.session.id}`);
      ctx.set('ETag', result.session.etag);
      ctx.set('Accept-Patch', 'application/trickle-ice-sdpfrag');
      const link = linkHeader(iceServersFor(d.ice, room));
      if (link) ctx.set('Link', link);
      ctx.body = result.answer;
      return true;
    };

    const sessionOf = (ctx: RouterContext): { room: Room; session: Session } => {
      const roomName = roomFromPath(ctx.params['room']);
      const room = d.rooms.get(roomName);
      const session = room?.sessions.get(ctx.params['session'] ?? '');
      if (!room || !session || session.kind !== k.kind) throw notFound('session_not_found', 'no such session');
      return { room, session };
    };

    router.patch(`${k.base}/:room/:session`, async (ctx) => {
      const principal = await d.auth.authenticate(ctx.headers);
      const { session } = sessionOf(ctx);
      d.auth.authorize(principal, k.grant, session.room);
      const ifMatch = ctx.get('If-Match');
      if (ifMatch && ifMatch !== '*' && ifMatch !== session.etag) {
        throw new AppError(412, 'etag_mismatch', 'the session changed (ICE restart); If-Match does not match its ETag');
      }
      const frag = await readTextBody(ctx, { types: ['application/trickle-ice-sdpfrag'], limit: d.maxSdpBytes });
      let parsed;
      try {
        parsed = parseTrickle(frag);
      } catch (err) {
        sdpError(err);
      }
      if (!parsed) return;
      if (parsed.ufrag && parsed.pwd && parsed.ufrag !== session.remoteIceUfrag) {
        // ICE restart (RFC 9725 §4.4.1): the client sent new credentials of its own → new
        // local ones, answered in an sdpfrag. ICE-lite learns the client's new credentials
        // from its connectivity checks.
        // Claimed before the await: a trickle PATCH with the same new credentials arriving
        // meanwhile must not restart ICE a second time.
        const previous = { ufrag: session.remoteIceUfrag, etag: session.etag };
        session.remoteIceUfrag = parsed.ufrag;
        session.etag = newEtag();
        let iceParameters;
        try {
          iceParameters = await session.transport.restartIce();
        } catch (err) {
          session.remoteIceUfrag = previous.ufrag;
          session.etag = previous.etag;
          throw err;
        }
        ctx.status = 200;
        ctx.type = 'application/trickle-ice-sdpfrag';
        ctx.set('ETag', session.etag);
        ctx.body = buildIceRestartFragment(iceParameters, session.transport.iceCandidates, parsed.mids);
        return;
      }
      // mediasoup is ICE-lite: it learns the client's addresses from its connectivity checks,
      // so trickled candidates need no action.
      ctx.status = 204;
    });

    router.delete(`${k.base}/:room/:session`, async (ctx) => {
      const principal = await d.auth.authenticate(ctx.headers);
      const { room, session } = sessionOf(ctx);
      d.auth.authorize(principal, k.grant, session.room);
      room.removeSession(session.id);
      d.logger.info({ room: room.name, sessionId: session.id }, 'session deleted');
      ctx.status = 200;
      ctx.body = '';
    });
  }

  // Internal control plane, called by the API service (internalGuard checked INTERNAL_TOKEN;
  // the grants are those of the caller it forwards).
  router.get('/internal/v1/rooms/:room', async (ctx) => {
    const roomName = roomFromPath(ctx.params['room']);
    d.auth.authorize(principalOf(ctx), 'subscribe', roomName);
    const room = d.rooms.get(roomName);
    if (!room) throw notFound('room_not_found', 'no such room on this instance');
    ctx.body = {
      name: room.name,
      publishers: room.publishers.length,
      subscribers: room.viewers.length,
      recordingId: d.recordings.recordingOf(room.name) ?? null,
      tracks: room.producers.map((p) => ({
        id: p.id,
        kind: p.kind,
        codec: p.rtpParameters.codecs[0]?.mimeType.split('/')[1]?.toLowerCase(),
      })),
    };
  });

  router.post('/internal/v1/rooms/:room/recordings', async (ctx) => {
    const roomName = roomFromPath(ctx.params['room']);
    d.auth.authorize(principalOf(ctx), 'record', roomName);
    const room = d.rooms.get(roomName);
    if (!room) throw notFound('room_not_found', `room "${roomName}" does not exist`);
    const rec = await d.recordings.start(room, 'api');
    ctx.status = 201;
    ctx.body = presentRecording(rec);
  });

  // Per-run recording taps, asked for by the capture runs of recorders (see recordingTap.ts).
  const runOf = (ctx: RouterContext): { id: string; attempt: number } => ({
    id: parseInput(IdSchema, ctx.params['id'], 'id'),
    attempt: runAttempt(ctx.params['attempt']),
  });
  // The recorder calls these with INTERNAL_TOKEN (internalGuard has already checked it).
  const authorizeRun = (ctx: RouterContext, room: string): void => {
    d.auth.authorize(principalOf(ctx), 'record', room);
  };
  router.post('/internal/v1/recordings/:id/runs/:attempt', async (ctx) => {
    const { id, attempt } = runOf(ctx);
    const body = parseInput(OpenTapRequestSchema, await readJsonBody(ctx), 'body');
    authorizeRun(ctx, body.room);
    const tap = await d.recordings.openTap(id, attempt, body);
    ctx.status = 201;
    ctx.body = { tracks: tap.tracks, sources: tap.sources };
  });
  router.post('/internal/v1/recordings/:id/runs/:attempt/connect', async (ctx) => {
    const { id, attempt } = runOf(ctx);
    const body = parseInput(ConnectTapRequestSchema, await readJsonBody(ctx), 'body');
    authorizeRun(ctx, (await roomOfRecording(id)) ?? '');
    await d.recordings.connectTap(id, attempt, body);
    ctx.status = 204;
  });
  router.post('/internal/v1/recordings/:id/runs/:attempt/keyframe', async (ctx) => {
    const { id, attempt } = runOf(ctx);
    authorizeRun(ctx, (await roomOfRecording(id)) ?? '');
    d.recordings.keyframe(id, attempt);
    ctx.status = 204;
  });
  router.get('/internal/v1/recordings/:id/runs/:attempt', async (ctx) => {
    const { id, attempt } = runOf(ctx);
    authorizeRun(ctx, (await roomOfRecording(id)) ?? '');
    ctx.body = await d.recordings.tapStatus(id, attempt);
  });
  router.delete('/internal/v1/recordings/:id/runs/:attempt', async (ctx) => {
    const { id, attempt } = runOf(ctx);
    authorizeRun(ctx, (await roomOfRecording(id)) ?? '');
    d.recordings.closeTap(id, attempt, 'run ended');
    ctx.status = 204;
  });
  // Leak checks (the soak, back-to-baseline tests, an operator): the instance's rooms and
  // sessions, and what its mediasoup workers hold by their own count. Internal callers only:
  // a forwarded user's token does not see other rooms' numbers.
  router.get('/internal/v1/media', async (ctx) => {
    if (principalOf(ctx).kind !== 'internal') throw new AppError(403, 'forbidden', 'internal callers only');
    const rooms = d.rooms.all;
    ctx.body = {
      rooms: rooms.length,
      sessions: rooms.reduce((n, r) => n + r.sessions.size, 0),
      workers: d.census ? await d.census() : [],
    };
  });
  const roomOfRecording = async (id: string): Promise<string | null> => (await d.recordingStore.get(id))?.room ?? null;

  app.use(tracingMiddleware('sfu'));
  app.use(errorMiddleware(d.logger));
  app.use(clientAddress(d.trustedProxies ?? []));
  app.use(cors(d.corsOrigins ?? []));
  app.use(metricsMiddleware(d.metrics));
  app.use(
    opsMiddleware({
      metrics: d.metrics,
      checks: d.checks,
      metricsToken: d.metricsToken,
      showDetails: async (ctx) =>
        d.auth.enabled &&
        (await d.auth.authenticate(ctx.headers).then(
          (p) => p.kind === 'token',
          () => false,
        )),
    }),
  );
  app.use(internalGuard({ internalToken: d.internalToken, auth: d.auth }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

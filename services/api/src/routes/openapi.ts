// The API's routes as data: one spec per route (its params, query and body schemas validate
// requests in http/contract.ts) and the OpenAPI 3.1 document generated from them.
import { z } from 'zod';
import { GrantSchema, RecordingOptionsSchema, RecordingStatusSchema, RoomNameSchema } from '@live-webrtc/shared';
import { openApiFrom, type RouteSpec } from '../http/contract.js';
import { ListQuerySchema } from './recordings.js';
import { JtiSchema, TokenRequestSchema } from './tokens.js';

const IdParamSchema = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i, 'not a valid id (ULID)');
const RoomParams = z.object({ room: RoomNameSchema });
const IdParams = z.object({ id: IdParamSchema });
// Output and file names: any string here; the routes answer 404 for anything that is not one
// of the recording's outputs or files (traversal attempts included).
const OutputParams = z.object({ id: IdParamSchema, output: z.string().max(64) });
const OutputFileParams = OutputParams.extend({ file: z.string().max(256) });
const SessionParams = z.object({ room: RoomNameSchema, session: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

// Response objects are open (looseObject): fields may be added, never renamed or dropped.
const Time = z.string().describe('ISO 8601');
export const RoomSchema = z.looseObject({
  name: z.string(),
  publishers: z.number().int().nonnegative(),
  subscribers: z.number().int().nonnegative(),
  recordingId: z.string().nullable(),
});
export const RecordingViewSchema = z.looseObject({
  id: z.string(),
  room: z.string(),
  status: RecordingStatusSchema,
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
  startedAt: Time,
  stoppedAt: Time.nullable(),
  durationMs: z.number().nonnegative().nullable().describe('Length of the media, paused spans left out'),
  firstFrameAt: Time.nullable().describe(
    'When the first decodable frame reached the recorder (the file begins at or before it); null while `starting`',
  ),
  tracks: z.array(z.looseObject({ kind: z.enum(['audio', 'video']), codec: z.string(), participant: z.string() })),
  outputs: z.array(
    z.looseObject({
      name: z
        .string()
        .describe(
          '`raw` (every track, participants placed at their offsets), `participant-1`, `participant-2`, … (one per participant, when several were recorded at once), and transcoded outputs (`mp4`, `hls`, `poster`, `sprite`, `audio`, `composite`)',
        ),
      contentType: z.string(),
      size: z.number().int().nonnegative().nullable(),
      status: z.enum(['pending', 'processing', 'ready', 'failed']),
      progress: z.number().min(0).max(1),
    }),
  ),
  participants: z
    .array(
      z.looseObject({
        id: z.string().describe('Opaque participant id (not a session id)'),
        output: z
          .string()
          .describe(
            'Output holding their audio + video: `raw` when no two participants were recorded at once, else `participant-N` (N in order of arrival)',
          ),
        startOffsetMs: z.number().nonnegative().describe("Where their media starts on the raw output's timeline (paused spans left out)"),
        endOffsetMs: z.number().nonnegative().nullable().describe('Where it ends (when they left, or the end of the recording)'),
        tracks: z.array(z.looseObject({ kind: z.enum(['audio', 'video']), codec: z.string() })),
      }),
    )
    .describe('Everyone recorded, filled in when the recording is finalized: a composite places each participant by startOffsetMs'),
  pauses: z
    .array(
      z.looseObject({
        at: Time,
        resumedAt: Time.nullable().describe('null while paused, or when stopped while paused'),
        offsetMs: z.number().nonnegative().nullable().describe("Where the cut sits on the outputs' timeline"),
      }),
    )
    .describe('Paused spans, oldest first: left out of the outputs'),
});
const TokenSchema = z.object({
  token: z.string(),
  expiresAt: Time,
  jti: z.string(),
  room: RoomNameSchema,
  grants: z.array(GrantSchema),
});

const e = (description: string) => ({ description });
const authErrors = {
  401: e('Missing or invalid credentials'),
  403: e('The token lacks the grant or is for another room, or a cross-site origin'),
  413: e('Body too large'),
  415: e('A body of the wrong type'),
  429: e('Rate limited'),
  503: e('Shared state (Redis) or the media server unavailable; retry'),
};
/** A stored file: whole, or the part a Range asked for. */
const fileResponses = {
  200: { description: 'The file', contentType: 'application/octet-stream' },
  206: { description: 'Part of the file', contentType: 'application/octet-stream' },
};
const redirect = { 307: e('The room lives on another instance: repeat the request there') };
const sdpAnswer = {
  description: 'Session created; the body is the SDP answer',
  contentType: 'application/sdp',
  headers: {
    Location: 'Session URL (PATCH/DELETE)',
    ETag: 'Session version',
    Link: 'ICE servers (rel="ice-server"), TURN credentials time-limited',
  },
};
const offer = { contentType: 'application/sdp', description: 'SDP offer' };

/** The CORS preflight of a WHIP/WHEP endpoint. */
function preflight(tag: 'WHIP' | 'WHEP', path: string): RouteSpec {
  return {
    method: 'options',
    path,
    tag,
    summary: 'CORS preflight (no ICE servers here)',
    auth: false,
    params: RoomParams,
    responses: { 204: e('Allowed methods') },
  };
}

function sessionRoutes(tag: 'WHIP' | 'WHEP', base: string): RouteSpec[] {
  return [
    {
      method: 'patch',
      path: `${base}/:room/:session`,
      tag,
      summary: 'Trickle ICE candidates or restart ICE (RFC 9725)',
      params: SessionParams,
      rawBody: { contentType: 'application/trickle-ice-sdpfrag', description: 'SDP fragment' },
      responses: {
        200: { description: 'ICE restart answer', contentType: 'application/trickle-ice-sdpfrag' },
        204: e('Accepted'),
        404: e('No such session'),
        412: e('If-Match does not match'),
        ...authErrors,
      },
    },
    {
      method: 'delete',
      path: `${base}/:room/:session`,
      tag,
      summary: 'End the session',
      params: SessionParams,
      responses: { 200: e('Ended'), 404: e('No such session'), ...authErrors },
    },
  ];
}

export const routeSpecs: RouteSpec[] = [
  {
    method: 'post',
    path: '/api/whip/publish/:room',
    tag: 'WHIP',
    summary: 'Publish (RFC 9725)',
    params: RoomParams,
    rawBody: offer,
    responses: {
      ...authErrors,
      201: sdpAnswer,
      ...redirect,
      400: e('Malformed offer, or more m-sections than MAX_MEDIA_SECTIONS'),
      406: e('No supported codec'),
      409: e('The room has its publisher(s)'),
      413: e('Offer too large'),
      415: e('Not application/sdp'),
    },
  },
  preflight('WHIP', '/api/whip/publish/:room'),
  ...sessionRoutes('WHIP', '/api/whip/publish'),
  {
    method: 'post',
    path: '/api/whep/play/:room',
    tag: 'WHEP',
    summary: 'Play',
    params: RoomParams,
    rawBody: offer,
    responses: {
      ...authErrors,
      201: sdpAnswer,
      ...redirect,
      400: e('Malformed offer'),
      403: e('Room full (MAX_SUBS_PER_ROOM) or MAX_VIEWER_PROFILES reached'),
      404: e('No publisher'),
      406: e('No supported codec'),
      429: e('Rate limited or MAX_SESSIONS_PER_IP'),
    },
  },
  preflight('WHEP', '/api/whep/play/:room'),
  ...sessionRoutes('WHEP', '/api/whep/play'),
  {
    method: 'get',
    path: '/api/v1/rooms',
    tag: 'Rooms',
    summary: "Every instance's rooms (a room token sees its own)",
    responses: { 200: { description: 'Rooms', schema: z.object({ rooms: z.array(RoomSchema) }) }, ...authErrors },
  },
  {
    method: 'get',
    path: '/api/v1/rooms/:room',
    tag: 'Rooms',
    summary: 'One room',
    params: RoomParams,
    responses: { 200: { description: 'Room', schema: RoomSchema }, 400: e('Bad room name'), 404: e('No such room'), ...authErrors },
  },
  {
    method: 'post',
    path: '/api/v1/rooms/:room/recordings',
    tag: 'Recordings',
    summary: 'Start recording the room (optional body: outputs to make, extra webhook URLs)',
    description:
      'Answers once the recording is capturing: status `active` with `firstFrameAt` (its file has begun), ' +
      'or, when no frame arrived within RECORDING_START_WAIT_MS (default 3000 ms), the recording as it is then ' +
      '(still `starting`, or `failed`/`stopping` if it ended meanwhile); a slow start is never an error. ' +
      '`Prefer: respond-async` (RFC 7240) answers at once with the recording `starting`; `Prefer: wait=N` waits at most N seconds.',
    requestHeaders: {
      Prefer: '`respond-async`: answer at once (status `starting`); `wait=N`: wait for the first frame at most N seconds',
    },
    params: RoomParams,
    body: RecordingOptionsSchema.optional(),
    responses: {
      201: {
        description: 'Recording: `active` once its first frame arrived, else as it is when the wait ended',
        schema: RecordingViewSchema,
        headers: {
          Location: 'The recording (/api/v1/recordings/{id})',
          'Preference-Applied': "`respond-async` when answered at once as asked; `wait=N` when the client's wait shortened ours",
        },
      },
      400: e('Bad room name'),
      404: e('No such room'),
      409: e('A recording is running'),
      ...authErrors,
    },
  },
  {
    method: 'get',
    path: '/api/v1/recordings',
    tag: 'Recordings',
    summary: 'Recordings, newest first',
    query: ListQuerySchema,
    responses: {
      200: { description: 'A page', schema: z.object({ items: z.array(RecordingViewSchema), nextCursor: z.string().nullable() }) },
      400: e('Bad query'),
      ...authErrors,
    },
  },
  {
    method: 'get',
    path: '/api/v1/recordings/:id',
    tag: 'Recordings',
    summary: 'One recording',
    params: IdParams,
    responses: {
      200: { description: 'Recording', schema: RecordingViewSchema },
      400: e('Bad id'),
      404: e('No such recording'),
      ...authErrors,
    },
  },
  {
    method: 'delete',
    path: '/api/v1/recordings/:id',
    tag: 'Recordings',
    summary: 'Delete the recording and every stored object of it',
    params: IdParams,
    responses: {
      204: e('Deleted'),
      400: e('Bad id'),
      404: e('No such recording'),
      409: e('Still recording: stop it first'),
      ...authErrors,
    },
  },
  {
    method: 'post',
    path: '/api/v1/recordings/:id/stop',
    tag: 'Recordings',
    summary: 'Stop recording',
    params: IdParams,
    responses: {
      202: { description: 'Recording', schema: RecordingViewSchema },
      400: e('Bad id'),
      404: e('No such recording'),
      409: e('Not running'),
      ...authErrors,
    },
  },
  {
    method: 'post',
    path: '/api/v1/recordings/:id/pause',
    tag: 'Recordings',
    summary:
      'Pause an active recording: the capture stops until resumed, and the paused span is left out of every output (listed in `pauses`)',
    params: IdParams,
    responses: {
      200: { description: 'Recording, now `paused`', schema: RecordingViewSchema },
      400: e('Bad id'),
      404: e('No such recording'),
      409: e('invalid_state: the recording is not active'),
      ...authErrors,
    },
  },
  {
    method: 'post',
    path: '/api/v1/recordings/:id/resume',
    tag: 'Recordings',
    summary: "Resume a paused recording: a new capture run continues the recording's timeline after the cut",
    params: IdParams,
    responses: {
      200: { description: 'Recording, `active` again (the pause has its `resumedAt`)', schema: RecordingViewSchema },
      400: e('Bad id'),
      404: e('No such recording'),
      409: e('invalid_state: the recording is not paused'),
      ...authErrors,
    },
  },
  {
    method: 'get',
    path: '/api/v1/recordings/:id/outputs',
    tag: 'Recordings',
    summary: 'Every output with status, progress, ETA, size, content type and URL (signedUrl when credentials are required)',
    params: IdParams,
    responses: {
      200: { description: 'Outputs', schema: z.object({ items: z.array(z.looseObject({ name: z.string(), url: z.string() })) }) },
      400: e('Bad id'),
      404: e('No such recording'),
      ...authErrors,
    },
  },
  {
    method: 'get',
    path: '/api/v1/recordings/:id/outputs/:output/:file',
    tag: 'Recordings',
    summary: 'A file of a multi-file output: HLS playlists and segments, the sprite image and its WebVTT (?token= accepted)',
    params: OutputFileParams,
    responses: {
      ...fileResponses,
      400: e('Bad id, output or file name'),
      404: e('No such recording, output or file'),
      409: e('Output not ready'),
      416: e('Range outside the file'),
      ...authErrors,
    },
  },
  {
    method: 'get',
    path: '/api/v1/recordings/:id/outputs/:output',
    tag: 'Recordings',
    summary:
      'Download an output, or the HLS master playlist for `hls` (Range supported; 302 to a presigned URL with S3_PRESIGN=1 on S3; ?token= accepted)',
    params: OutputParams,
    responses: {
      ...fileResponses,
      302: e('Presigned storage URL'),
      400: e('Bad id or output name'),
      404: e('No such recording or output'),
      409: e('Output not ready'),
      416: e('Range outside the file'),
      ...authErrors,
    },
  },
  {
    method: 'post',
    path: '/api/v1/tokens',
    tag: 'Tokens',
    summary: 'Mint a room-scoped JWT (JWT_SECRET)',
    body: TokenRequestSchema,
    responses: { 201: { description: 'Token', schema: TokenSchema }, 400: e('Bad request'), ...authErrors },
  },
  {
    method: 'delete',
    path: '/api/v1/tokens/:jti',
    tag: 'Tokens',
    summary: 'Revoke a room token by its jti (server token only)',
    params: z.object({ jti: JtiSchema }),
    responses: { 204: e('Revoked'), 400: e('Bad jti'), ...authErrors },
  },
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    tag: 'Meta',
    summary: 'This document',
    auth: false,
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } },
  },
  {
    method: 'get',
    path: '/',
    tag: 'Operations',
    summary: 'The web app (publish, watch, rooms, recordings)',
    auth: false,
    responses: { 200: { description: 'HTML', contentType: 'text/html' }, 503: e('The web app was not built (web_not_built)') },
  },
  {
    method: 'get',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Process is up',
    auth: false,
    responses: { 200: { description: 'OK', schema: z.object({ status: z.literal('ok') }) } },
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'Operations',
    summary: 'Redis and storage usable (failure details only for the server token)',
    auth: false,
    responses: {
      200: { description: 'Ready', schema: z.object({ status: z.string(), checks: z.record(z.string(), z.string()) }) },
      503: { description: 'Not ready', schema: z.object({ status: z.string(), checks: z.record(z.string(), z.string()) }) },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics (Bearer METRICS_TOKEN when set)',
    auth: false,
    responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' }, 401: e('METRICS_TOKEN required') },
  },
];

export const openApiDocument = openApiFrom(routeSpecs, {
  title: 'live-webrtc',
  version: '0.1.0',
  description: 'WHIP/WHEP SFU with recording. Every error is {"error":{"code","message"}}. Generated from the routes\' own schemas.',
});

// The OpenAPI 3.1 description of the public HTTP surface (API.md plus our additions).
const err = { $ref: '#/components/responses/Error' };
const sdpBody = { required: true, content: { 'application/sdp': { schema: { type: 'string' } } } };
const roomParam = { name: 'room', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', description: 'ULID' } };
const sessionParam = { name: 'session', in: 'path', required: true, schema: { type: 'string' } };
const sdpCreated = {
  description: 'Session created; body is the SDP answer',
  headers: {
    Location: { schema: { type: 'string' }, description: 'Session URL (PATCH/DELETE)' },
    ETag: { schema: { type: 'string' } },
    Link: { schema: { type: 'string' }, description: 'ICE servers, rel="ice-server"' },
  },
  content: { 'application/sdp': { schema: { type: 'string' } } },
};
const sessionOps = (tag: string) => ({
  patch: {
    tags: [tag],
    summary: 'Trickle ICE candidates or restart ICE',
    parameters: [roomParam, sessionParam],
    requestBody: { required: true, content: { 'application/trickle-ice-sdpfrag': { schema: { type: 'string' } } } },
    responses: { 204: { description: 'Candidates accepted' }, 200: { description: 'ICE restart answer (sdpfrag)' }, 404: err, 412: err },
  },
  delete: {
    tags: [tag],
    summary: 'End the session',
    parameters: [roomParam, sessionParam],
    responses: { 200: { description: 'Ended' }, 404: err },
  },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'live-webrtc', version: '0.1.0', description: 'WHIP/WHEP SFU with recording. Errors are {"error":{"code","message"}}.' },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'AUTH_TOKEN or a room JWT from POST /api/v1/tokens' },
      xAuthToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
    },
    responses: {
      Error: {
        description: 'Error',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                error: {
                  type: 'object',
                  properties: { code: { type: 'string' }, message: { type: 'string' } },
                  required: ['code', 'message'],
                },
              },
            },
          },
        },
      },
    },
    schemas: {
      Room: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          publishers: { type: 'integer' },
          subscribers: { type: 'integer' },
          recordingId: { type: ['string', 'null'] },
          instance: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      Recording: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          room: { type: 'string' },
          status: { enum: ['starting', 'active', 'stopping', 'processing', 'ready', 'failed'] },
          error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
          startedAt: { type: 'string', format: 'date-time' },
          stoppedAt: { type: ['string', 'null'], format: 'date-time' },
          durationMs: { type: ['number', 'null'] },
          tracks: {
            type: 'array',
            items: {
              type: 'object',
              properties: { kind: { enum: ['audio', 'video'] }, codec: { type: 'string' }, participant: { type: 'string' } },
            },
          },
          outputs: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                contentType: { type: 'string' },
                size: { type: ['integer', 'null'] },
                status: { enum: ['pending', 'processing', 'ready', 'failed'] },
                progress: { type: 'number' },
                durationMs: { type: ['number', 'null'] },
              },
            },
          },
          transitions: { type: 'array', items: { type: 'object', properties: { status: { type: 'string' }, at: { type: 'string' } } } },
          trigger: { enum: ['api', 'auto'] },
        },
      },
    },
  },
  security: [{ bearer: [] }, { xAuthToken: [] }, {}],
  paths: {
    '/api/whip/publish/{room}': {
      post: {
        tags: ['WHIP'],
        summary: 'Publish (RFC 9725)',
        parameters: [roomParam],
        requestBody: sdpBody,
        responses: {
          201: sdpCreated,
          307: { description: 'Room lives on another instance' },
          400: err,
          401: err,
          406: err,
          409: err,
          413: err,
          415: err,
        },
      },
      options: {
        tags: ['WHIP'],
        summary: 'CORS preflight; ICE servers in Link',
        parameters: [roomParam],
        responses: { 204: { description: 'OK' } },
      },
    },
    '/api/whip/publish/{room}/{session}': sessionOps('WHIP'),
    '/api/whep/play/{room}': {
      post: {
        tags: ['WHEP'],
        summary: 'Play',
        parameters: [roomParam],
        requestBody: sdpBody,
        responses: { 201: sdpCreated, 307: { description: 'Room lives on another instance' }, 400: err, 403: err, 404: err, 406: err },
      },
      options: {
        tags: ['WHEP'],
        summary: 'CORS preflight; ICE servers in Link',
        parameters: [roomParam],
        responses: { 204: { description: 'OK' } },
      },
    },
    '/api/whep/play/{room}/{session}': sessionOps('WHEP'),
    '/api/v1/rooms': { get: { summary: "Every instance's rooms", responses: { 200: { description: '{ rooms: Room[] }' } } } },
    '/api/v1/rooms/{room}': {
      get: {
        summary: 'One room',
        parameters: [roomParam],
        responses: {
          200: { description: 'Room', content: { 'application/json': { schema: { $ref: '#/components/schemas/Room' } } } },
          404: err,
        },
      },
    },
    '/api/v1/rooms/{room}/recordings': {
      post: {
        summary: 'Start recording the room',
        parameters: [roomParam],
        responses: {
          201: { description: 'Recording', content: { 'application/json': { schema: { $ref: '#/components/schemas/Recording' } } } },
          404: err,
          409: err,
        },
      },
    },
    '/api/v1/recordings': {
      get: {
        summary: 'Recordings, newest first',
        parameters: [
          { name: 'room', in: 'query', schema: { type: 'string' } },
          { name: 'status', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: { description: '{ items: Recording[], nextCursor: string|null }' }, 400: err },
      },
    },
    '/api/v1/recordings/{id}': {
      get: { summary: 'One recording', parameters: [idParam], responses: { 200: { description: 'Recording' }, 404: err } },
      delete: {
        summary: 'Delete the recording and every stored object of it',
        parameters: [idParam],
        responses: { 204: { description: 'Deleted' }, 404: err, 409: err },
      },
    },
    '/api/v1/recordings/{id}/stop': {
      post: {
        summary: 'Stop recording',
        parameters: [idParam],
        responses: { 202: { description: 'Recording (stopping or later)' }, 404: err },
      },
    },
    '/api/v1/recordings/{id}/outputs/{output}': {
      get: {
        summary: 'Download an output (Range supported; 302 to a presigned URL with DOWNLOAD_REDIRECT=1 on S3)',
        parameters: [
          idParam,
          { name: 'output', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'Range', in: 'header', schema: { type: 'string' } },
        ],
        responses: {
          200: { description: 'Bytes' },
          206: { description: 'Partial bytes' },
          302: { description: 'Presigned URL' },
          404: err,
          409: err,
          416: err,
        },
      },
    },
    '/api/v1/tokens': {
      post: {
        summary: 'Mint a room-scoped JWT',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  room: { type: 'string' },
                  grants: { type: 'array', items: { enum: ['publish', 'subscribe', 'record', 'admin'] } },
                  ttlSeconds: { type: 'integer' },
                },
                required: ['room', 'grants'],
              },
            },
          },
        },
        responses: { 201: { description: '{ token, expiresAt, room, grants }' }, 400: err, 401: err, 403: err },
      },
    },
    '/api/v1/openapi.json': { get: { summary: 'This document', security: [{}], responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/healthz': { get: { summary: 'Process is up', security: [{}], responses: { 200: { description: 'OK' } } } },
    '/readyz': {
      get: {
        summary: 'Redis and storage usable',
        security: [{}],
        responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [{}], responses: { 200: { description: 'text/plain' } } } },
  },
} as const;

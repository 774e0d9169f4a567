// The REST API (/api/v1, ../../shared API.md) as the page uses it: every request carries the
// token when one is set, and failures become ApiError with the server's typed {error: {code, message}}.

const TOKEN_KEY = 'live-webrtc.token';

export interface Room {
  name: string;
  publishers: number;
  subscribers: number;
  recordingId: string | null;
}

export type RecordingStatus = 'starting' | 'active' | 'paused' | 'stopping' | 'processing' | 'ready' | 'failed';
export type OutputStatus = 'pending' | 'processing' | 'ready' | 'failed';

export interface Output {
  name: string;
  contentType: string;
  size: number | null;
  status: OutputStatus;
  progress: number | null;
  participant?: string;
  etaSeconds?: number | null;
  error?: { code: string; message: string } | null;
  /** From GET …/outputs: where to fetch it; signedUrl works without headers (players, links). */
  url?: string;
  signedUrl?: string;
}

export interface Recording {
  id: string;
  room: string;
  status: RecordingStatus;
  error: { code: string; message: string } | null;
  startedAt: string | null;
  stoppedAt: string | null;
  durationMs: number | null;
  tracks: { kind: 'audio' | 'video'; codec: string; participant: string }[];
  outputs: Output[];
  transitions?: { status: RecordingStatus; at: string }[];
  /** Paused spans (left out of the outputs); older servers send none. */
  pauses?: { at: string; resumedAt: string | null; offsetMs: number | null }[];
  /** Everyone recorded, with where they start and end on the recording's timeline; older servers send none. */
  participants?: Participant[];
}

export interface Participant {
  id: string;
  output: string;
  startOffsetMs: number;
  endOffsetMs: number | null;
  tracks: { kind: 'audio' | 'video'; codec: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function getToken(): string {
  try {
    return (localStorage.getItem(TOKEN_KEY) ?? '').trim();
  } catch {
    return '';
  }
}

export function setToken(value: string): void {
  const v = value.trim().replace(/^bearer\s+/i, '');
  try {
    if (v) localStorage.setItem(TOKEN_KEY, v);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage unavailable (private mode): the token is just not remembered
  }
}

export function authHeaders(token = getToken(), extra: Record<string, string> = {}): Headers {
  const headers = new Headers(extra);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return headers;
}

export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code) return new ApiError(res.status, body.error.code, body.error.message ?? body.error.code);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `http_${res.status}`, `${res.status} ${res.statusText}`.trim());
}

export interface RequestOptions {
  body?: BodyInit;
  headers?: Record<string, string>;
  token?: string;
  keepalive?: boolean;
  signal?: AbortSignal;
}

/** fetch with the token; throws ApiError on network failure and non-2xx answers. */
export async function request(method: string, url: string, o: RequestOptions = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: authHeaders(o.token, o.headers),
      cache: 'no-store',
      ...(o.body !== undefined ? { body: o.body } : {}),
      ...(o.keepalive ? { keepalive: true } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    if (o.signal?.aborted) throw err;
    throw new ApiError(0, 'network_error', 'cannot reach the server');
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

export async function json<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await request(method, url, {
    headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  rooms: () => json<{ rooms: Room[] }>('GET', '/api/v1/rooms'),
  room: (name: string) => json<Room>('GET', `/api/v1/rooms/${enc(name)}`),
  startRecording: (room: string) => json<Recording>('POST', `/api/v1/rooms/${enc(room)}/recordings`),
  stopRecording: (id: string) => json<Recording>('POST', `/api/v1/recordings/${enc(id)}/stop`),
  pauseRecording: (id: string) => json<Recording>('POST', `/api/v1/recordings/${enc(id)}/pause`),
  resumeRecording: (id: string) => json<Recording>('POST', `/api/v1/recordings/${enc(id)}/resume`),
  recording: (id: string) => json<Recording>('GET', `/api/v1/recordings/${enc(id)}`),
  outputs: (id: string) => json<{ items: Output[] }>('GET', `/api/v1/recordings/${enc(id)}/outputs`),
  deleteRecording: (id: string) => json<void>('DELETE', `/api/v1/recordings/${enc(id)}`),
  recordings: (q: { room?: string; status?: string; limit?: number; cursor?: string }) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
    return json<{ items: Recording[]; nextCursor: string | null }>('GET', `/api/v1/recordings?${p.toString()}`);
  },
};

let pauseSupport: Promise<boolean> | undefined;

/**
 * Whether this server implements pause/resume: the OpenAPI document lists the route. Asked once;
 * the buttons are shown only when it does (no fake controls).
 */
export function supportsPause(): Promise<boolean> {
  pauseSupport ??= json<{ paths?: Record<string, unknown> }>('GET', '/api/v1/openapi.json')
    .then((doc) => Object.keys(doc.paths ?? {}).some((p) => /\/recordings\/\{[^}]+\}\/pause$/.test(p)))
    .catch(() => false);
  return pauseSupport;
}

export const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

// One error catalogue: every error a client can see has a stable snake_case code, an HTTP
// status and whether retrying can help. Unknown errors become a generic 500 (never leaked).
import { isRedisUnavailable } from './redis.js';

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable = false,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, false, details);
export const unauthorized = (message = 'missing or invalid credentials') => new AppError(401, 'unauthorized', message);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const notAcceptable = (code: string, message: string) => new AppError(406, code, message);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
export const unsupportedMediaType = (message: string) => new AppError(415, 'unsupported_media_type', message);
export const unavailable = (code: string, message: string) => new AppError(503, code, message, true);

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** The JSON body and status for any thrown value. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; expected: boolean } {
  if (err instanceof AppError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details) body.error.details = err.details;
    return { status: err.status, body, expected: err.status < 500 };
  }
  // Errors thrown by Koa itself (ctx.throw, the body parser) carry a 4xx status: the client's
  // fault. Their message is shown when marked safe (`expose`), or when it is a JSON syntax error.
  const e = err as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const json = err instanceof SyntaxError;
    const code =
      e.status === 413 ? 'payload_too_large' : e.status === 415 ? 'unsupported_media_type' : json ? 'invalid_json' : 'bad_request';
    const message = json ? `the body is not valid JSON: ${String(e.message)}` : e.expose === true ? String(e.message) : 'bad request';
    return { status: e.status, body: { error: { code, message } }, expected: true };
  }
  if (isRedisUnavailable(err)) {
    return {
      status: 503,
      body: { error: { code: 'redis_unavailable', message: 'shared state (Redis) is not reachable; retry shortly' } },
      expected: false,
    };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal server error' } }, expected: false };
}

// One pino logger factory. Child loggers carry room / recordingId / jobId / sessionId.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["x-auth-token"]',
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'password',
  'secret',
  'token',
  '*.password',
  '*.secret',
  '*.token',
  'S3_SECRET_KEY',
  'AUTH_TOKEN',
  'TURN_PASSWORD',
  'TURN_SECRET',
  'JWT_SECRET',
];

export function createLogger(service: string, level: string = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

// The configuration surface shared by every service: the variables of the reference
// deployment document plus REDIS_URL. Each service extends `commonConfigShape` with its own
// part and calls `loadConfig()` once at start; a bad value stops the process with a message
// that names the variable and what it allows.
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseCidrs, refineSecrets } from './security.js';

/** "1", "true", "yes", "on" → true; "0", "false", "no", "off", "" → false. */
export const envBool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const s = v.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `expected 1/0/true/false, got "${v}"` });
      return z.NEVER;
    });

/** Integer within [min, max], given as a decimal string. */
export const envInt = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      if (!/^-?\d+$/.test(v.trim())) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(v);
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

/** Optional string: unset and empty both mean "not set". */
export const envOptional = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const envString = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.trim()));

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port", ":port" (all interfaces) or "[v6]:port". */
export function parseListenAddress(value: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  return { host, port };
}

export const envListen = (fallback: string) =>
  envString(fallback).transform((v, ctx) => {
    const addr = parseListenAddress(v);
    if (!addr) {
      ctx.addIssue({ code: 'custom', message: `expected "host:port" or ":port" (e.g. ":8080"), got "${v}"` });
      return z.NEVER;
    }
    return addr;
  });

const turnUrlRe = /^(stun|stuns|turn|turns):[^\s,]+$/;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const commonConfigShape = {
  /** Where the service's HTTP server listens. Default ":8080" (API); services override. */
  HTTP_ADDR: envListen(':8080'),
  /** When set, every route but health/readiness/metrics/page requires it (Bearer or X-Auth-Token). ≥ 32 bytes. */
  AUTH_TOKEN: envOptional(),
  /** Secret that signs room JWTs (≥ 32 bytes, differs from AUTH_TOKEN); unset = no room tokens. */
  JWT_SECRET: envOptional(),
  /** Opt-out of "closed by default": run without AUTH_TOKEN beyond loopback. Default 0. */
  ALLOW_UNAUTHENTICATED: envBool(false),
  /** Credential of service-to-service calls (the SFU's /internal/* routes); never a user token. */
  INTERNAL_TOKEN: envOptional(),
  /** Peers whose X-Forwarded-For is believed: CIDRs or "loopback", comma-separated. Default "loopback". */
  TRUSTED_PROXIES: envString('loopback').transform((v, ctx) => {
    const cidrs = v === 'none' ? [] : parseCidrs(v);
    if (!cidrs) {
      ctx.addIssue({ code: 'custom', message: `expected CIDRs such as "10.0.0.0/8,::1", "loopback" or "none", got "${v}"` });
      return z.NEVER;
    }
    return cidrs;
  }),
  /** Browser origins allowed to call the API and WHIP/WHEP cross-origin, comma-separated (":*" = any port). Default: none (same origin only). */
  CORS_ORIGINS: envOptional().transform((v, ctx) => {
    const list = (v ?? '')
      .split(',')
      .map((s) => s.trim().replace(/\/$/, ''))
      .filter(Boolean);
    for (const o of list) {
      if (!/^https?:\/\/[A-Za-z0-9.-]+(:(\d{1,5}|\*))?$/.test(o) && !/^https?:\/\/\[[0-9a-fA-F:]+\](:(\d{1,5}|\*))?$/.test(o)) {
        ctx.addIssue({ code: 'custom', message: `"${o}" is not an origin such as https://app.example.com` });
        return z.NEVER;
      }
    }
    return list;
  }),
  /** When set, GET /metrics requires it as a Bearer token. Default: /metrics open. */
  METRICS_TOKEN: envOptional(),
  /** Record every room from its first publisher until it empties. Default off. */
  RECORD_ENABLED: envBool(false),
  /**
   * A recorded publisher who leaves (or loses its connection) and publishes again within this
   * many seconds continues the same recording as a new run; past it the recording is finalized.
   * Default 30.
   */
  RECORD_REJOIN_GRACE_SECONDS: envInt(30, 0, 3600),
  /**
   * Admission cost of a recording, per track: what a video / an audio track is counted as, kbit/s
   * (a recording costs the sum over its tracks; recorders have a budget, RECORDER_COST_BUDGET_KBPS).
   */
  RECORD_VIDEO_COST_KBPS: envInt(2000, 1, 1_000_000),
  RECORD_AUDIO_COST_KBPS: envInt(64, 1, 1_000_000),
  /** Retry-After of a start refused because no recorder has room (503 recorders_full), seconds. Default 5. */
  RECORD_ADMISSION_RETRY_SECONDS: envInt(5, 1, 3600),
  /** Local recording storage (and the recorder's scratch space). Default ./records. */
  // Made absolute against the working directory at start: paths handed to ffmpeg (an ffconcat
  // list resolves relative entries against its own directory) must not depend on who reads them.
  RECORD_DIR: envString('./records').transform((v) => resolve(v)),
  TURN_URLS: envOptional().transform((v, ctx) => {
    if (v === undefined) return [] as string[];
    const urls = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const u of urls) {
      if (!turnUrlRe.test(u)) {
        ctx.addIssue({ code: 'custom', message: `"${u}" is not a stun:, stuns:, turn: or turns: URL` });
        return z.NEVER;
      }
    }
    return urls;
  }),
  TURN_USERNAME: envOptional(),
  TURN_PASSWORD: envOptional(),
  /** coturn `use-auth-secret` shared secret: when set, browsers get time-limited credentials. */
  TURN_SECRET: envOptional(),
  /** Lifetime of time-limited TURN credentials, seconds. Default 3600. */
  TURN_TTL: envInt(3600, 60, 7 * 24 * 3600),
  S3_ENDPOINT: envOptional(),
  S3_REGION: envString('us-east-1'),
  S3_BUCKET: envOptional(),
  S3_ACCESS_KEY: envOptional(),
  S3_SECRET_KEY: envOptional(),
  S3_USE_SSL: envBool(true),
  S3_PATH_STYLE: envBool(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: envOptional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: envString('grpc').pipe(z.enum(['grpc', 'http/protobuf', 'http/json'])),
  OTEL_SERVICE_NAME: envString('live-webrtc'),
  REDIS_URL: envString('redis://127.0.0.1:6379').refine((v) => /^rediss?:\/\//.test(v), {
    message: 'expected a redis:// or rediss:// URL',
  }),
  /** Prefix of every Redis key and BullMQ queue, so several deployments can share a Redis. */
  REDIS_PREFIX: envString('lw').refine((v) => /^[A-Za-z0-9_-]{1,32}$/.test(v), {
    message: 'expected 1-32 letters, digits, "_" or "-"',
  }),
  LOG_LEVEL: envString('info').pipe(z.enum(LOG_LEVELS)),
};

type CommonShapeOutput = z.output<z.ZodObject<typeof commonConfigShape>>;

/**
 * Rules across variables of the common surface. Every service schema runs it (a zod object
 * extended with a service's own fields loses the refinements of the object it spread).
 */
export function refineCommonConfig(c: CommonShapeOutput, ctx: z.RefinementCtx): void {
  const s3 = [c.S3_BUCKET, c.S3_ACCESS_KEY, c.S3_SECRET_KEY];
  if (s3.some((v) => v !== undefined) && s3.some((v) => v === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['S3_BUCKET'],
      message: 'S3 storage needs S3_BUCKET, S3_ACCESS_KEY and S3_SECRET_KEY together',
    });
  }
  if ((c.TURN_USERNAME === undefined) !== (c.TURN_PASSWORD === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['TURN_USERNAME'], message: 'set TURN_USERNAME and TURN_PASSWORD together' });
  }
  refineSecrets(c, ctx);
}

export const commonConfigSchema = z.object(commonConfigShape).superRefine(refineCommonConfig);

export type CommonConfig = z.output<typeof commonConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with `schema`; throws ConfigError listing every problem by variable name. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`);
  throw new ConfigError(problems);
}

/** loadConfig, or print the problems and exit 2 — for a service's start-up only. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>, service: string): z.output<S> {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

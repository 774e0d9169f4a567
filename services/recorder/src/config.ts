// The recorder's configuration: the shared surface plus where its ffmpeg listens, how many
// captures it runs and how it cuts segments. Parsed once at start (main.ts hands in process.env).
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { availableParallelism } from 'node:os';
import {
  commonConfigShape,
  envBool,
  envInt,
  envListen,
  envOptional,
  envString,
  exposureProblem,
  loadConfig,
  parseOutputList,
  refineCommonConfig,
  WebhookUrlSchema,
} from '@live-webrtc/shared';

const RECORDER_ROLE_NAMES = ['capture', 'transcode'] as const;

/** A comma-separated list parsed by `parse` (which throws RangeError naming a bad entry). */
const envList = <T>(fallback: string, parse: (v: string) => T) =>
  envString(fallback).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  });

export const recorderConfigSchema = z
  .object({
    ...commonConfigShape,
    /** Where the recorder's health/readiness/metrics HTTP server listens. Default 127.0.0.1:8083. */
    RECORDER_HTTP_ADDR: envListen('127.0.0.1:8083'),
    /** IP ffmpeg binds for RTP/RTCP and that is reported to the SFU. Default 127.0.0.1. */
    RECORDER_HOST: envString('127.0.0.1').refine((v) => isIP(v) !== 0 && v !== '0.0.0.0' && v !== '::', {
      message: 'expected the IPv4 or IPv6 address the SFU can send to (not a wildcard address)',
    }),
    /** Lowest UDP port handed to ffmpeg (RTP ports are even, RTCP is RTP + 1). Default 50000. */
    RECORDER_RTP_MIN_PORT: envInt(50000, 1024, 65534),
    /** Highest UDP port handed to ffmpeg. Default 59999. */
    RECORDER_RTP_MAX_PORT: envInt(59999, 1025, 65535),
    /** Captures (ffmpeg processes) run at once by this process. Default 50. */
    RECORDER_CONCURRENCY: envInt(50, 1, 1000),
    /**
     * Admission budget of this recorder, kbit/s: the sum of its captures' costs (RECORD_VIDEO_COST_KBPS
     * per video track + RECORD_AUDIO_COST_KBPS per audio track) it is counted able to carry. A start
     * no live recorder has room for is refused with 503 + Retry-After. 0 = 150,000 per CPU core
     * (100 recordings of 1.5 Mbit/s). Default 0.
     */
    RECORDER_COST_BUDGET_KBPS: envInt(0, 0, 100_000_000),
    /** Finalize jobs (segment joins) run at once by this process. Default 2. */
    RECORDER_FINALIZE_CONCURRENCY: envInt(2, 1, 64),
    /** Length of a capture segment, seconds; a crash loses at most about this much. Default 10. */
    SEGMENT_SECONDS: envInt(10, 1, 3600),
    /** A capture with no decodable frame by then fails with `no_media`, ms. Default 15000. */
    FIRST_FRAME_TIMEOUT_MS: envInt(15000, 500, 600_000),
    /** A capture with no RTP/RTCP packet for this long ends and is finalized, seconds; 0 = never. Default 60. */
    RECORDER_MEDIA_TIMEOUT_SECONDS: envInt(60, 0, 86_400),
    /** Heartbeat TTL in Redis, ms: a killed recorder's captures move to a new run about this long after. Default 1000. */
    RECORDER_HEARTBEAT_TTL_MS: envInt(1000, 300, 60_000),
    /**
     * ffmpeg that left packets unread in its sockets this long (or, where /proc/net/udp cannot be
     * read, made no progress for 3× this, at least 1.5 s) is stuck: the capture continues as a
     * new run, ms. Default 300 (a busy ffmpeg, waiting for the CPU or the disk, is never called
     * stuck by the queues: see ffmpeg/stall.ts).
     */
    RECORDER_STUCK_MS: envInt(300, 200, 60_000),
    /**
     * How long a capture waits for its ffmpeg to bind its RTP/RTCP ports, ms. On a loaded host
     * ffmpeg can take seconds to start; past this the run is retried as a new run. Default 15000.
     */
    RECORDER_BIND_TIMEOUT_MS: envInt(15_000, 1000, 300_000),
    /**
     * A live recording whose capture runs keep failing to start (ffmpeg not binding its ports, no
     * free port, the recorder's own errors) is retried as new runs, with backoff, for this long
     * before it is finalized from what is stored (or failed `capture_failed`), s. Default 60.
     */
    RECORDER_START_RETRY_SECONDS: envInt(60, 0, 86_400),
    /** This recorder's id in Redis (heartbeat, claims). Default hostname-pid-random. */
    RECORDER_ID: envOptional(),
    /** Scratch space for segments before upload and for finalize. Default `${RECORD_DIR}/.work`. */
    RECORDER_WORK_DIR: envOptional(),
    /** ffmpeg and ffprobe executables. Default: found on PATH. */
    FFMPEG_PATH: envString('ffmpeg'),
    FFPROBE_PATH: envString('ffprobe'),
    /** What this recorder does: `capture` (captures + finalize), `transcode` (transcodes + webhooks). Default both. */
    RECORDER_ROLES: envList('capture,transcode', (v) => {
      const roles = v
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const bad = roles.find((r) => !(RECORDER_ROLE_NAMES as readonly string[]).includes(r));
      if (bad !== undefined || roles.length === 0)
        throw new RangeError(`expected roles from ${RECORDER_ROLE_NAMES.join(', ')}, got "${bad ?? v}"`);
      return [...new Set(roles)] as (typeof RECORDER_ROLE_NAMES)[number][];
    }),
    /** Outputs made for every recording (a start request may choose others). Default all of them. */
    TRANSCODE_OUTPUTS: envList('mp4,hls,poster,sprite,audio,composite', parseOutputList),
    /** Transcode jobs taken at once by this process (they then wait for CPU budget). Default 4. */
    TRANSCODE_CONCURRENCY: envInt(4, 1, 64),
    /** Estimated cores transcodes may use at once (mp4 re-encode 1, HLS ladder 2, …). Default: the machine's cores. */
    TRANSCODE_CPU_BUDGET: envInt(availableParallelism(), 1, 1024),
    /** Niceness of transcoding ffmpeg processes (captures run at normal priority). Default 10. */
    TRANSCODE_NICE: envInt(10, 0, 19),
    /** Encoder threads per transcode; 0 = ffmpeg's choice. Default 0. */
    TRANSCODE_THREADS: envInt(0, 0, 64),
    /** x264 preset of re-encoded outputs (mp4, hls, composite). Default veryfast. */
    TRANSCODE_PRESET: envString('veryfast').pipe(z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'])),
    /** x264 CRF of re-encoded outputs (lower = better and larger). Default 23. */
    TRANSCODE_CRF: envInt(23, 0, 51),
    /** Audio of the mp4 output: aac (plays everywhere) or opus (Opus copied, no re-encode). Default aac. */
    TRANSCODE_MP4_AUDIO: envString('aac').pipe(z.enum(['aac', 'opus'])),
    /**
     * Recordings per recorder whose mp4 is made while they are recorded (one person, one run), so
     * that at stop only the last seconds are left to encode; each holds
     * an mp4's share of TRANSCODE_CPU_BUDGET meanwhile. 0 = off (the mp4 is encoded after the
     * stop). Default: half the cores, at least 1.
     */
    TRANSCODE_LIVE_MAX: envInt(Math.max(1, Math.floor(availableParallelism() / 2)), 0, 64),
    /** Attempts per output before it is `failed`. Default 3. */
    TRANSCODE_ATTEMPTS: envInt(3, 1, 20),
    /** Webhook targets for every recording's events (comma-separated http(s) URLs). */
    WEBHOOK_URLS: envList('', (v) =>
      v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
        .map((u) => {
          const r = WebhookUrlSchema.safeParse(u);
          if (!r.success) throw new RangeError(`"${u}": ${r.error.issues[0]?.message ?? 'not a URL'}`);
          return r.data;
        }),
    ),
    /** HMAC-SHA256 key of webhook signatures. */
    WEBHOOK_SECRET: envOptional(),
    /** Allow webhook targets on loopback, private or link-local addresses. Default 0. */
    WEBHOOK_ALLOW_PRIVATE: envBool(false),
    /** Attempts per webhook delivery (exponential backoff from 1 s). Default 8. */
    WEBHOOK_ATTEMPTS: envInt(8, 1, 30),
    /** Timeout of one webhook request, ms. Default 10000. */
    WEBHOOK_TIMEOUT_MS: envInt(10_000, 100, 120_000),
    /** Recordings older than this many days are deleted with all their files; 0 = keep forever. Default 0. */
    RECORDING_RETENTION_DAYS: envInt(0, 0, 36_500),
  })
  .superRefine((c, ctx) => {
    refineCommonConfig(c, ctx);
    // Closed by default like the API and the SFU: its HTTP server (readiness, metrics) beyond
    // loopback needs AUTH_TOKEN, and the SFU's tap routes it calls need INTERNAL_TOKEN.
    const problem = exposureProblem(c, c.RECORDER_HTTP_ADDR, { needsInternalToken: true });
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
    if (c.RECORDER_RTP_MAX_PORT - c.RECORDER_RTP_MIN_PORT < 3) {
      ctx.addIssue({
        code: 'custom',
        path: ['RECORDER_RTP_MIN_PORT'],
        message: 'the RTP port range needs room for at least two port pairs',
      });
    }
  })
  .transform((c) => ({ ...c, RECORDER_WORK_DIR: c.RECORDER_WORK_DIR ? resolve(c.RECORDER_WORK_DIR) : join(c.RECORD_DIR, '.work') }));

export type RecorderConfig = z.output<typeof recorderConfigSchema>;

/** Parses the recorder's environment; throws ConfigError naming every bad variable. */
export const loadRecorderConfig = (env: Record<string, string | undefined>): RecorderConfig => loadConfig(recorderConfigSchema, env);

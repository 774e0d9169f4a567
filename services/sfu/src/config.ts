// The SFU's configuration: the shared surface plus the media plane's own variables.
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import {
  commonConfigShape,
  envInt,
  envListen,
  envOptional,
  envString,
  exposureProblem,
  loadConfig,
  refineCommonConfig,
} from '@live-webrtc/shared';

export const sfuConfigSchema = z
  .object({
    ...commonConfigShape,
    /** Where the SFU's own HTTP server (WHIP/WHEP, internal control) listens. Default 127.0.0.1:8081. */
    SFU_HTTP_ADDR: envListen('127.0.0.1:8081'),
    /** URL clients use to reach this instance (redirect target). Default http://127.0.0.1:8080. */
    PUBLIC_URL: envString('http://127.0.0.1:8080').refine((v) => /^https?:\/\/[^/]+$/.test(v), {
      message: 'expected an origin such as https://sfu-1.example.com (no path)',
    }),
    /** Unique id of this instance in the room registry. Default hostname-pid. */
    INSTANCE_ID: envString(`${hostname()}-${process.pid}`).refine((v) => /^[A-Za-z0-9._-]{1,128}$/.test(v), {
      message: 'expected 1-128 letters, digits, ".", "_" or "-"',
    }),
    /** mediasoup workers; default one per core. */
    SFU_WORKERS: envInt(availableParallelism(), 1, 64),
    /** Local IP the WebRTC transports bind. Default: every local IPv4 address (one candidate each). */
    RTC_LISTEN_IP: envOptional(),
    /** Public IP announced in ICE candidates (NAT / cloud). */
    ANNOUNCED_IP: envOptional(),
    RTC_MIN_PORT: envInt(40000, 1024, 65535),
    RTC_MAX_PORT: envInt(49999, 1024, 65535),
    /**
     * Publishers per room. Default 4, a small meeting (a further one gets 409); each is recorded
     * as a participant with an output of its own.
     */
    MAX_PUBS_PER_ROOM: envInt(4, 1, 16),
    /** WHEP viewers per room. Default 500 (the next one gets 403). */
    MAX_SUBS_PER_ROOM: envInt(500, 0, 100000),
    /** Rooms this instance serves at once (the next new room gets 503). Default 1000. */
    MAX_ROOMS: envInt(1000, 1, 1_000_000),
    /** Open WHIP/WHEP sessions per client IP on this instance (the next gets 429). Default 200. */
    MAX_SESSIONS_PER_IP: envInt(200, 1, 1_000_000),
    /** m-sections (audio/video/data) per offer; more is a 400. Default 16. */
    MAX_MEDIA_SECTIONS: envInt(16, 1, 64),
    /** Viewer routers (payload-type numberings) per room beyond the publisher's; the next new numbering gets 503. Default 4. */
    MAX_VIEWER_PROFILES: envInt(4, 0, 64),
    /** Largest accepted SDP body, bytes. Default 65536. */
    MAX_SDP_BYTES: envInt(65536, 1024, 1048576),
    /**
     * URL the API uses to reach this instance's HTTP server (registered with its rooms). Default
     * from SFU_HTTP_ADDR (0.0.0.0 → 127.0.0.1); containers and pods set their own address.
     */
    SFU_INTERNAL_URL: envOptional().refine((v) => v === undefined || /^https?:\/\/[^/]+$/.test(v), {
      message: 'expected an origin such as "http://10.0.0.5:8081"',
    }),
    /** IP the recording PlainTransports bind; must reach the recorders. Default 127.0.0.1. */
    TAP_LISTEN_IP: envString('127.0.0.1'),
    /** A WHIP/WHEP session whose client sent nothing (not even ICE consent checks) this long is removed, seconds. Default 30. */
    SESSION_TIMEOUT_SECONDS: envInt(30, 2, 3600),
    /** Seconds a stopped publisher's room stays recorded before the recording stops. Default 0. */
    RECORD_GRACE_SECONDS: envInt(0, 0, 3600),
    /**
     * A recording started while recorders were seen before but none is up now fails with
     * `no_recorder` when no recorder has taken it after this many seconds. Default 10.
     */
    RECORDER_WAIT_SECONDS: envInt(10, 1, 3600),
  })
  .superRefine((c, ctx) => {
    refineCommonConfig(c, ctx);
    const problem = exposureProblem(c, c.SFU_HTTP_ADDR, { needsInternalToken: true });
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
    if (c.RTC_MIN_PORT > c.RTC_MAX_PORT) {
      ctx.addIssue({ code: 'custom', path: ['RTC_MIN_PORT'], message: 'must not exceed RTC_MAX_PORT' });
    }
  });

export type SfuConfig = z.output<typeof sfuConfigSchema>;

export const loadSfuConfig = (env: Record<string, string | undefined>): SfuConfig => loadConfig(sfuConfigSchema, env);

// The API's configuration: the shared surface plus where its SFU is, and its limits.
import { z } from 'zod';
import { commonConfigShape, envBool, envInt, envString, exposureProblem, loadConfig, refineCommonConfig } from '@live-webrtc/shared';

export const apiConfigSchema = z
  .object({
    ...commonConfigShape,
    /** The SFU this API fronts for WHIP/WHEP (its SFU_HTTP_ADDR). Default http://127.0.0.1:8081. */
    SFU_URL: envString('http://127.0.0.1:8081').refine((v) => /^https?:\/\/[^/]+$/.test(v), {
      message: 'expected an origin such as http://127.0.0.1:8081 (no path)',
    }),
    /**
     * SFU internal URLs (read from the room registry in Redis) the API may send INTERNAL_TOKEN
     * to: comma-separated origins where "*" stands for one host label or port. Default: SFU_URL.
     */
    SFU_INTERNAL_URLS: envString('').transform((v, ctx) => {
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const p of list) {
        if (!/^https?:\/\/[A-Za-z0-9.*:[\]-]+$/.test(p)) {
          ctx.addIssue({ code: 'custom', message: `"${p}" is not an origin pattern such as http://10.0.*.*:8081` });
          return z.NEVER;
        }
      }
      return list;
    }),
    /** Answer output downloads from S3 with a 302 to a presigned URL instead of streaming. Default 0. */
    S3_PRESIGN: envBool(false),
    /** The older name of S3_PRESIGN (either one enables it). Default 0. */
    DOWNLOAD_REDIRECT: envBool(false),
    /** Requests per minute per client IP on /api/v1 and WHIP/WHEP (Redis-backed, all instances). Default 1200. 0 = off. */
    RATE_LIMIT_IP_PER_MINUTE: envInt(1200, 0, 10_000_000),
    /** Requests per minute per credential (token or room JWT). Default 600. 0 = off. */
    RATE_LIMIT_TOKEN_PER_MINUTE: envInt(600, 0, 10_000_000),
    /** Largest JSON body on /api/v1, bytes. Default 65536. */
    MAX_JSON_BYTES: envInt(65536, 1024, 10_485_760),
    /** Largest SDP / trickle body relayed to the SFU, bytes. Default 262144. */
    MAX_RELAY_BYTES: envInt(262144, 1024, 10_485_760),
    /** Lifetime of presigned download URLs, seconds. Default 600. */
    S3_PRESIGN_TTL_SECONDS: envInt(600, 10, 7 * 24 * 3600),
    /**
     * How long POST /api/v1/rooms/{room}/recordings waits for the recording's first frame before
     * answering, ms: the 201 then says `active` (its file has begun). Past it the answer is the
     * recording still `starting` (never an error). 0 = answer at once. Default 3000.
     */
    RECORDING_START_WAIT_MS: envInt(3000, 0, 60_000),
    /** Lifetime of the signed `?token=` on output URLs (HLS for players without headers), seconds. Default 3600. */
    OUTPUT_TOKEN_TTL_SECONDS: envInt(3600, 30, 7 * 24 * 3600),
  })
  .superRefine((c, ctx) => {
    refineCommonConfig(c, ctx);
    const problem = exposureProblem(c, c.HTTP_ADDR, { needsInternalToken: true });
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.variable], message: problem.message });
  });

export type ApiConfig = z.output<typeof apiConfigSchema>;
export const loadApiConfig = (env: Record<string, string | undefined>): ApiConfig => loadConfig(apiConfigSchema, env);

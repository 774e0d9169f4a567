// The API's configuration: the shared surface plus where its SFU is.
import { z } from 'zod';
import { commonConfigShape, envBool, envInt, envString, loadConfig, refineCommonConfig } from '@live-webrtc/shared';

export const apiConfigSchema = z
  .object({
    ...commonConfigShape,
    /** The SFU this API fronts for WHIP/WHEP (its SFU_HTTP_ADDR). Default http://127.0.0.1:8081. */
    SFU_URL: envString('http://127.0.0.1:8081').refine((v) => /^https?:\/\/[^/]+$/.test(v), {
      message: 'expected an origin such as http://127.0.0.1:8081 (no path)',
    }),
    /** Answer output downloads from S3 with a 302 to a presigned URL instead of streaming. Default 0. */
    S3_PRESIGN: envBool(false),
    /** The older name of S3_PRESIGN (either one enables it). Default 0. */
    DOWNLOAD_REDIRECT: envBool(false),
    /** Lifetime of presigned download URLs, seconds. Default 600. */
    S3_PRESIGN_TTL_SECONDS: envInt(600, 10, 7 * 24 * 3600),
    /** Lifetime of the signed `?token=` on output URLs (HLS for players without headers), seconds. Default 3600. */
    OUTPUT_TOKEN_TTL_SECONDS: envInt(3600, 30, 7 * 24 * 3600),
  })
  .superRefine(refineCommonConfig);

export type ApiConfig = z.output<typeof apiConfigSchema>;
export const loadApiConfig = (env: Record<string, string | undefined>): ApiConfig => loadConfig(apiConfigSchema, env);

// The API's configuration: the shared surface plus where its SFU is.
import { z } from 'zod';
import { commonConfigShape, envBool, envString, loadConfig, refineCommonConfig } from '@live-webrtc/shared';

export const apiConfigSchema = z
  .object({
    ...commonConfigShape,
    /** The SFU this API fronts for WHIP/WHEP (its SFU_HTTP_ADDR). Default http://127.0.0.1:8081. */
    SFU_URL: envString('http://127.0.0.1:8081').refine((v) => /^https?:\/\/[^/]+$/.test(v), {
      message: 'expected an origin such as http://127.0.0.1:8081 (no path)',
    }),
    /** Answer output downloads from S3 with a 302 to a presigned URL instead of streaming. Default 0. */
    DOWNLOAD_REDIRECT: envBool(false),
  })
  .superRefine(refineCommonConfig);

export type ApiConfig = z.output<typeof apiConfigSchema>;
export const loadApiConfig = (env: Record<string, string | undefined>): ApiConfig => loadConfig(apiConfigSchema, env);

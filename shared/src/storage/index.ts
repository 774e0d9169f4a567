import type { CommonConfig } from '../config.js';
import { LocalStorage } from './local.js';
import { S3Storage } from './s3.js';
import type { Storage } from './storage.js';

export * from './storage.js';
export type { GrowingObject, ParkedParts } from './growing.js';
export { planSharedParts, SHARED_LAST_PART, SharedUploadError } from './sharedUpload.js';
export { S3GrowingObject, MIN_PART_BYTES } from './s3Growing.js';
export { LocalStorage, contentTypeOf } from './local.js';
export { S3Storage, partSizeFor, s3EndpointUrl } from './s3.js';

/** S3 when S3_BUCKET is set, else the local directory RECORD_DIR. */
export function createStorage(c: CommonConfig): Storage {
  if (c.S3_BUCKET && c.S3_ACCESS_KEY && c.S3_SECRET_KEY) {
    return new S3Storage({
      endpoint: c.S3_ENDPOINT,
      region: c.S3_REGION,
      bucket: c.S3_BUCKET,
      accessKey: c.S3_ACCESS_KEY,
      secretKey: c.S3_SECRET_KEY,
      useSsl: c.S3_USE_SSL,
      pathStyle: c.S3_PATH_STYLE,
    });
  }
  return new LocalStorage(c.RECORD_DIR);
}

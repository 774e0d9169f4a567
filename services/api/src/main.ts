// API entry point: configuration, start, and signals. Everything else is in service.ts.
import { loadConfigOrExit } from '@live-webrtc/shared';
import { apiConfigSchema } from './config.js';
import { startApi } from './service.js';

const config = loadConfigOrExit(apiConfigSchema, process.env, 'api');
const api = await startApi(config);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    api.logger.info({ signal: sig }, 'shutting down');
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

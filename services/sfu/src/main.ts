// SFU entry point: configuration, start, and signals. Everything else is in service.ts.
import { loadConfigOrExit } from '@live-webrtc/shared';
import { sfuConfigSchema } from './config.js';
import { startSfu } from './service.js';

const config = loadConfigOrExit(sfuConfigSchema, process.env, 'sfu');
const sfu = await startSfu(config);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    sfu.logger.info({ signal: sig }, 'shutting down');
    sfu.close().then(
      () => process.exit(0),
      (err: unknown) => {
        sfu.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}

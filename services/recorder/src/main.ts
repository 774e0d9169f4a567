// Recorder entry point: configuration, start, and signals. Everything else is in service.ts.
import { loadConfigOrExit } from '@live-webrtc/shared';
import { recorderConfigSchema } from './config.js';
import { startRecorder } from './service.js';

const config = loadConfigOrExit(recorderConfigSchema, process.env, 'recorder');
const recorder = await startRecorder(config);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    recorder.logger.info({ signal: sig }, 'shutting down: finishing running captures');
    recorder.close().then(
      () => process.exit(0),
      (err: unknown) => {
        recorder.logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  });
}

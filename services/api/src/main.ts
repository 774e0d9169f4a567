// API entry point: configuration, tracing, signals (shared/lifecycle). Wiring is in service.ts.
import { runService } from '@live-webrtc/shared';
import { apiConfigSchema } from './config.js';
import { startApi } from './service.js';

await runService('api', apiConfigSchema, startApi);

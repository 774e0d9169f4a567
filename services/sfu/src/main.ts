// SFU entry point: configuration, tracing, signals (shared/lifecycle). Wiring is in service.ts.
import { runService } from '@live-webrtc/shared';
import { sfuConfigSchema } from './config.js';
import { startSfu } from './service.js';

await runService('sfu', sfuConfigSchema, startSfu);

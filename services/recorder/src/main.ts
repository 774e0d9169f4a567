// Recorder entry point: configuration, tracing, signals (shared/lifecycle). Wiring is in
// service.ts; its close() finishes running captures before the process exits.
import { runService } from '@live-webrtc/shared';
import { recorderConfigSchema } from './config.js';
import { startRecorder } from './service.js';

await runService('recorder', recorderConfigSchema, startRecorder);

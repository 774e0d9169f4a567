// The one package every service imports. Deep imports (e.g. '@live-webrtc/shared/storage/index')
// also work; this barrel re-exports the common surface.
export * from './config.js';
export * from './logging.js';
export * from './errors.js';
export * from './ids.js';
export * from './redis.js';
export * from './messages.js';
export * from './auth.js';
export * from './security.js';
export * from './metrics.js';
export * from './http.js';
export * from './tracing.js';
export * from './lifecycle.js';
export * from './timeout.js';
export * from './queue/index.js';
export * from './storage/index.js';
export * from './recordings/index.js';
export * from './rooms.js';
export * from './pubsub.js';
export * from './webhooks/index.js';

// How every service process lives: configuration parsed once (a bad value stops it with the
// variable named), tracing started before anything creates spans, then the service; SIGINT or
// SIGTERM close it once — its own close() decides what "cleanly" means (the recorder finishes
// its captures) — then buffered spans are flushed and the process exits.
import type { z } from 'zod';
import { loadConfigOrExit, type CommonConfig } from './config.js';
import type { Logger } from './logging.js';
import { withTimeout } from './timeout.js';
import { startTracing } from './tracing.js';

/**
 * How long a clean stop may take before the process exits anyway, ms: well above the
 * recorder's own budget (ffmpeg's stop timeout, the last segment uploads, a 10 s finalize
 * drain). Under `npm start` the launcher SIGKILLs a service after 20 s first; this deadline is
 * for services run on their own (containers, systemd).
 */
const SHUTDOWN_DEADLINE_MS = 60_000;

export interface RunningService {
  logger: Logger;
  close(): Promise<void>;
}

export async function runService<S extends z.ZodType<CommonConfig>>(
  name: string,
  schema: S,
  start: (config: z.output<S>) => Promise<RunningService>,
): Promise<void> {
  const config = loadConfigOrExit(schema, process.env, name);
  const stopTracing = await startTracing(config, name);
  let service: RunningService;
  try {
    service = await start(config);
  } catch (err) {
    // A dependency that is not there (Redis, storage, a binary): say what, not a stack trace.
    process.stderr.write(`${name}: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    await withTimeout(stopTracing(), 5000).catch(() => {});
    process.exit(1);
  }
  let stopping: NodeJS.Signals | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        // Ctrl-C reaches every process of the group and then the launcher sends each service
        // a SIGTERM: that is still the one stop. The same signal twice is an operator who
        // will not wait (e.g. Redis is down and the recorder cannot save its state).
        if (signal !== stopping) return;
        service.logger.warn({ signal }, 'second signal: exiting without finishing the clean stop');
        process.exit(1);
      }
      stopping = signal;
      service.logger.info({ signal }, 'shutting down');
      // A clean stop that cannot finish (a dependency gone) must not keep the process forever.
      setTimeout(() => {
        service.logger.error({ afterMs: SHUTDOWN_DEADLINE_MS }, 'clean stop did not finish; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      void service
        .close()
        .then(
          () => 0,
          (err: unknown) => {
            service.logger.error({ err }, 'unclean shutdown');
            return 1;
          },
        )
        .then(async (code) => {
          await withTimeout(stopTracing(), 5000).catch(() => {});
          process.exit(code);
        });
    });
  }
}

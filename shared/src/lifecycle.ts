// How every service process lives: configuration parsed once (a bad value stops it with the
// variable named), tracing started before anything creates spans, then the service; SIGINT or
// SIGTERM close it once — its own close() decides what "cleanly" means (the recorder finishes
// its captures) — then buffered spans are flushed and the process exits.
import type { z } from 'zod';
import { loadConfigOrExit, type CommonConfig } from './config.js';
import type { Logger } from './logging.js';
import { startTracing } from './tracing.js';

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
    await stopTracing().catch(() => {});
    process.exit(1);
  }
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return; // a second Ctrl-C must not interrupt the clean stop
      stopping = true;
      service.logger.info({ signal }, 'shutting down');
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
          await stopTracing().catch(() => {});
          process.exit(code);
        });
    });
  }
}

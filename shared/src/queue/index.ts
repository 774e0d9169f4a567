// Typed BullMQ helpers: producers enqueue by job name, workers get payloads already parsed
// against the shared schema (a payload that does not parse fails without retries).
import { DelayedError, Queue, Worker, UnrecoverableError, type Job, type JobsOptions, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { inSpan } from '../tracing.js';
import { JOB_QUEUE, JOB_SCHEMAS, type JobData, type JobName, type QueueName } from './jobs.js';

export * from './jobs.js';
export { DelayedError, UnrecoverableError };

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export class JobQueues {
  readonly #queues = new Map<QueueName, Queue>();
  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  queue(name: QueueName): Queue {
    let q = this.#queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: `${this.prefix}:bull` });
      this.#queues.set(name, q);
    }
    return q;
  }

  /** Validates `data` against the job's schema, then enqueues it under `jobId`. */
  async enqueue<N extends JobName>(name: N, data: JobData<N>, opts: JobsOptions & { jobId: string }): Promise<Job> {
    const parsed = JOB_SCHEMAS[name].parse(data);
    return this.queue(JOB_QUEUE[name]).add(name, parsed, { ...DEFAULT_JOB_OPTIONS, ...opts });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    this.#queues.clear();
  }
}

export type JobHandler<N extends JobName> = (data: JobData<N>, job: Job, signal: AbortSignal) => Promise<unknown>;

/**
 * A worker for one queue whose handlers receive parsed payloads. A payload that fails its
 * schema is an UnrecoverableError: retrying cannot fix it.
 */
export function createWorker(
  queue: QueueName,
  handlers: { [N in JobName]?: JobHandler<N> },
  opts: { connection: Redis; prefix: string; concurrency: number; logger: Logger } & Partial<WorkerOptions>,
): Worker {
  const { connection, prefix, concurrency, logger, ...rest } = opts;
  return new Worker(
    queue,
    async (job: Job, _token?: string, signal?: AbortSignal) => {
      const name = job.name as JobName;
      const handler = handlers[name] as JobHandler<JobName> | undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}" on queue "${queue}"`);
      const parsed = JOB_SCHEMAS[name].safeParse(job.data);
      if (!parsed.success) {
        logger.error({ jobId: job.id, issues: parsed.error.issues }, 'job payload does not match its schema');
        throw new UnrecoverableError(`invalid ${name} payload: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      }
      const data = parsed.data as { recordingId?: string };
      return inSpan(
        'jobs',
        `job ${name}`,
        {
          'job.id': String(job.id),
          'job.queue': queue,
          'job.attempt': String(job.attemptsMade + 1),
          'recording.id': data.recordingId ?? '',
        },
        () => handler(parsed.data, job, signal ?? new AbortController().signal),
      );
    },
    { connection, prefix: `${prefix}:bull`, concurrency, ...rest },
  );
}

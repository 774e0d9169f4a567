// The pool of mediasoup workers (one process per core by default). Rooms ask for the least
// loaded worker. A worker that dies is replaced; the rooms it carried are closed by their owners.
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
type Worker = ms.Worker;
import type { Logger } from '@live-webrtc/shared';

export interface WorkerPoolOptions {
  /** Number of workers. */
  count: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logger: Logger;
}

interface Slot {
  worker: Worker;
  /** Routers currently on this worker (a cheap load estimate). */
  load: number;
  /** The worker's open routers, followed through its observer (for census()). */
  routers: Set<ms.Router>;
}

/** What one worker holds, counted by the worker itself (router dumps), for leak checks. */
export interface WorkerCensus {
  index: number;
  pid: number;
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  rtpObservers: number;
}

/** The router's own dump (mediasoup 3.8 Router::FillJson), the fields census() counts. */
interface RouterDump {
  transportIds?: string[];
  rtpObserverIds?: string[];
  mapProducerIdConsumerIds?: Record<string, string[]>;
  mapConsumerIdProducerId?: Record<string, string>;
}

export class WorkerPool extends EventEmitter<{ workerdied: [Worker] }> {
  readonly #slots: Slot[] = [];
  #closed = false;

  private constructor(private readonly opts: WorkerPoolOptions) {
    super();
  }

  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    // Split the port range so workers never compete for the same ports.
    for (let i = 0; i < opts.count; i++) pool.#slots.push(WorkerPool.#slot(await pool.#spawn(i)));
    return pool;
  }

  static #slot(worker: Worker): Slot {
    const routers = new Set<ms.Router>();
    worker.observer.on('newrouter', (r: ms.Router) => {
      routers.add(r);
      r.observer.once('close', () => routers.delete(r));
    });
    return { worker, load: 0, routers };
  }

  async #spawn(index: number): Promise<Worker> {
    const span = Math.floor((this.opts.rtcMaxPort - this.opts.rtcMinPort + 1) / this.opts.count);
    const rtcMinPort = this.opts.rtcMinPort + index * span;
    const worker = await mediasoup
      .createWorker({ logLevel: 'warn', rtcMinPort, rtcMaxPort: rtcMinPort + span - 1, appData: { index } })
      .catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        throw new Error(
          `the mediasoup worker binary was not found (${(err as NodeJS.ErrnoException).path ?? '?'}): build it with scripts/build-worker.sh, ` +
            'or set MEDIASOUP_WORKER_BIN to a mediasoup-worker matching mediasoup 3.8.4',
          { cause: err },
        );
      });
    worker.on('died', (err) => {
      this.opts.logger.error({ err, pid: worker.pid }, 'mediasoup worker died; replacing it');
      this.emit('workerdied', worker);
      if (this.#closed) return;
      const slot = this.#slots.find((s) => s.worker === worker);
      this.#spawn(index).then(
        (w) => {
          if (slot) Object.assign(slot, WorkerPool.#slot(w));
        },
        (e: unknown) => this.opts.logger.error({ err: e }, 'could not replace mediasoup worker'),
      );
    });
    return worker;
  }

  /** The least loaded live worker; the caller must call `release()` when its router closes. */
  acquire(): Worker {
    const live = this.#slots.filter((s) => !s.worker.closed);
    const slot = live.sort((a, b) => a.load - b.load)[0];
    if (!slot) throw new Error('no mediasoup worker available');
    slot.load++;
    return slot.worker;
  }

  release(worker: Worker): void {
    const slot = this.#slots.find((s) => s.worker === worker);
    if (slot && slot.load > 0) slot.load--;
  }

  /** Resolves when every worker answers (for /readyz). */
  async check(): Promise<void> {
    if (this.#slots.length === 0 || this.#slots.every((s) => s.worker.closed)) throw new Error('no mediasoup workers');
    await Promise.all(this.#slots.filter((s) => !s.worker.closed).map((s) => s.worker.getResourceUsage()));
  }

  /** CPU time each live worker has used so far (ms, user + system), by worker index. */
  async cpuMs(): Promise<{ index: number; pid: number; ms: number }[]> {
    const live = this.#slots.map((s, index) => ({ s, index })).filter(({ s }) => !s.worker.closed);
    return Promise.all(
      live.map(async ({ s, index }) => {
        const ru = await s.worker.getResourceUsage();
        return { index, pid: s.worker.pid, ms: ru.ru_utime + ru.ru_stime };
      }),
    );
  }

  /**
   * Routers, transports, producers and consumers each live worker holds, from the worker's
   * own dumps rather than the JS objects: a leak in either side shows (see the soak, #12).
   * The worker's routerIds is the truth for routers; transports and the rest come from each
   * router's dump.
   */
  async census(): Promise<WorkerCensus[]> {
    const live = this.#slots.map((s, index) => ({ s, index })).filter(({ s }) => !s.worker.closed);
    return Promise.all(
      live.map(async ({ s, index }) => {
        const dump = (await s.worker.dump()) as { routerIds?: string[] };
        const row: WorkerCensus = {
          index,
          pid: s.worker.pid,
          routers: dump.routerIds?.length ?? 0,
          transports: 0,
          producers: 0,
          consumers: 0,
          rtpObservers: 0,
        };
        for (const r of [...s.routers]) {
          const rd = (await r.dump().catch(() => null)) as RouterDump | null;
          if (!rd) continue; // closed meanwhile
          row.transports += rd.transportIds?.length ?? 0;
          row.rtpObservers += rd.rtpObserverIds?.length ?? 0;
          row.producers += Object.keys(rd.mapProducerIdConsumerIds ?? {}).length;
          row.consumers += Object.keys(rd.mapConsumerIdProducerId ?? {}).length;
        }
        return row;
      }),
    );
  }

  get size(): number {
    return this.#slots.filter((s) => !s.worker.closed).length;
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#slots) s.worker.close();
  }
}

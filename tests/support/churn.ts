// A churning workload against a stack, for the soak (bench/soak.mjs) and the back-to-baseline
// test: light publishers in many rooms, WHEP viewers joining and leaving, recordings started and
// stopped, publishers leaving and rejoining. Every recording started is followed to its final
// status; one that fails or never finishes is "lost". Errors while a fault is injected (a
// refused publish, a 503) are counted, not thrown: the soak is about what the product does
// under them.
import { Redis } from 'ioredis';
import { wrtcPublish, wrtcView, type Peer } from './wrtcPeers.js';
import type { Stack } from './stack.js';

export interface ChurnOptions {
  rooms: number;
  /** Viewers per room at most (they come and go). */
  maxViewers: number;
  /** A recording runs at least this long before the churn may stop it. */
  minRecordingS: number;
  /** How long a publisher stays away when it leaves. */
  absenceS: number;
  /** Room name prefix. */
  prefix: string;
  /** Random source (tests pass a seeded one). */
  random?: () => number;
}

interface RoomState {
  name: string;
  publisher: Peer | null;
  leftAt: number;
  /** Times the publisher was away: [left, back] (back null while away). */
  absences: [number, number | null][];
  viewers: Peer[];
  /** The live recording started by the churn, if any. */
  recording: { id: string; startedAt: number } | null;
  busy: boolean;
}

export interface TrackedRecording {
  id: string;
  room: string;
  status: string;
  error: { code: string; message: string } | null;
  stopRequested: boolean;
  /**
   * Media lost, s: the active wall time (first frame → stop) not covered by any stored segment
   * or run file (each placed on the wall clock by its run's start), minus the time the publisher
   * was away.
   * Null until ready.
   */
  lostS: number | null;
  finalAt: number | null;
  /** Every transcoded output ready or failed (or the recording failed): nothing more will run for it. */
  outputsDone: boolean;
  /** Outputs that failed: name and error. */
  failedOutputs: string[];
}

export interface ChurnCounts {
  publishes: number;
  publishFailures: number;
  viewerJoins: number;
  viewerFailures: number;
  recordingsStarted: number;
  recordingStartRefused: number;
  ready: number;
  failed: number;
  /** Not final yet. */
  pending: number;
  /** Recordings whose transcoded outputs are still pending or processing. */
  outputsPending: number;
  outputsFailed: number;
  /** Sum over ready recordings of their media lost (s), and the worst one. */
  mediaLostS: number;
  worstLostS: number;
  errors: string[];
}

interface RecordingBody {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  stoppedAt: string | null;
  durationMs: number | null;
  transitions: { status: string; at: string }[];
  outputs: { name: string; status: string; error?: { code: string; message: string } | null }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Churn {
  readonly rooms: RoomState[];
  readonly recordings = new Map<string, TrackedRecording>();
  readonly counts = { publishes: 0, publishFailures: 0, viewerJoins: 0, viewerFailures: 0, recordingsStarted: 0, recordingStartRefused: 0 };
  readonly errors: string[] = [];
  readonly #random: () => number;

  constructor(
    private readonly stack: Stack,
    private readonly opts: ChurnOptions,
  ) {
    this.#random = opts.random ?? Math.random;
    this.rooms = Array.from({ length: opts.rooms }, (_, i) => ({
      name: `${opts.prefix}${i}`,
      publisher: null,
      leftAt: 0,
      absences: [],
      viewers: [],
      recording: null,
      busy: false,
    }));
  }

  #error(msg: string): void {
    this.errors.push(`${new Date().toISOString()} ${msg}`);
    if (this.errors.length > 200) this.errors.shift();
  }

  async #publish(room: RoomState): Promise<void> {
    try {
      room.publisher = await wrtcPublish(`${this.stack.url}/api/whip/publish/${room.name}`);
      this.counts.publishes++;
      const away = room.absences[room.absences.length - 1];
      if (away && away[1] === null) away[1] = Date.now();
    } catch (err) {
      this.counts.publishFailures++;
      this.#error(`publish ${room.name}: ${(err as Error).message}`);
    }
  }

  /** Every room gets its publisher. */
  async start(): Promise<void> {
    for (const room of this.rooms) await this.#publish(room);
  }

  /** One random step in every room that is not busy with the previous one. */
  async step(): Promise<void> {
    await Promise.all(this.rooms.filter((r) => !r.busy).map((r) => this.#stepRoom(r)));
  }

  async #stepRoom(room: RoomState): Promise<void> {
    room.busy = true;
    try {
      const x = this.#random();
      if (!room.publisher) {
        if (Date.now() - room.leftAt >= this.opts.absenceS * 1000) await this.#publish(room);
      } else if (x < 0.35) {
        await this.#churnViewer(room);
      } else if (x < 0.6) {
        await this.#toggleRecording(room);
      } else if (x < 0.65) {
        const p = room.publisher;
        room.publisher = null;
        room.leftAt = Date.now();
        room.absences.push([room.leftAt, null]);
        await p.close();
      }
    } catch (err) {
      this.#error(`${room.name}: ${(err as Error).message}`);
    } finally {
      room.busy = false;
    }
  }

  async #churnViewer(room: RoomState): Promise<void> {
    const leave = room.viewers.length >= this.opts.maxViewers || (room.viewers.length > 0 && this.#random() < 0.4);
    if (leave) {
      const i = Math.floor(this.#random() * room.viewers.length);
      const [v] = room.viewers.splice(i, 1);
      await v?.close();
      return;
    }
    try {
      room.viewers.push(await wrtcView(`${this.stack.url}/api/whep/play/${room.name}`));
      this.counts.viewerJoins++;
    } catch (err) {
      this.counts.viewerFailures++;
      this.#error(`view ${room.name}: ${(err as Error).message}`);
    }
  }

  async #toggleRecording(room: RoomState): Promise<void> {
    if (!room.recording) {
      const r = await fetch(`${this.stack.url}/api/v1/rooms/${room.name}/recordings`, {
        method: 'POST',
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await r.json().catch(() => null)) as RecordingBody | { error: { code: string } } | null;
      if (r.status === 409) {
        // The previous recording is still stopping (live until its last segment is stored).
        this.counts.recordingStartRefused++;
      } else if (r.status === 201 && body && 'id' in body) {
        this.counts.recordingsStarted++;
        room.recording = { id: body.id, startedAt: Date.now() };
        this.recordings.set(body.id, {
          id: body.id,
          room: room.name,
          status: body.status,
          error: null,
          stopRequested: false,
          lostS: null,
          finalAt: null,
          outputsDone: false,
          failedOutputs: [],
        });
      } else {
        this.counts.recordingStartRefused++;
        this.#error(`record ${room.name}: ${r.status} ${JSON.stringify(body)}`);
      }
      return;
    }
    if (Date.now() - room.recording.startedAt < this.opts.minRecordingS * 1000) return;
    await this.#stop(room);
  }

  /** Asks for the room's recording to stop; true once the API took it (or it is over already). */
  async #stop(room: RoomState): Promise<boolean> {
    const rec = room.recording;
    if (!rec) return true;
    const r = await fetch(`${this.stack.url}/api/v1/recordings/${rec.id}/stop`, {
      method: 'POST',
      signal: AbortSignal.timeout(15_000),
    }).catch((err: Error) => ({ status: 0, text: () => Promise.resolve(err.message) }));
    // 202 stopping; 409 when it is no longer live (ended by itself, e.g. the publisher left past the grace).
    if (r.status === 202 || r.status === 409) {
      room.recording = null;
      const t = this.recordings.get(rec.id);
      if (t) t.stopRequested = true;
      return true;
    }
    this.#error(`stop ${rec.id}: ${r.status} ${(await r.text()).slice(0, 200)}`);
    return false;
  }

  /** Reads the status of every recording (and its outputs) not final yet. */
  async poll(): Promise<void> {
    for (const t of this.recordings.values()) {
      if (t.finalAt !== null && t.outputsDone) continue;
      const r = await fetch(`${this.stack.url}/api/v1/recordings/${t.id}`, { signal: AbortSignal.timeout(10_000) }).catch(() => null);
      if (!r?.ok) continue;
      const b = (await r.json()) as RecordingBody;
      t.status = b.status;
      t.error = b.error;
      if (t.finalAt === null && (b.status === 'ready' || b.status === 'failed')) {
        t.finalAt = Date.now();
        const active = b.transitions.find((x) => x.status === 'active')?.at;
        if (b.status === 'ready' && active && b.stoppedAt) t.lostS = await this.#lostS(t, Date.parse(active), Date.parse(b.stoppedAt));
      }
      if (t.finalAt !== null) {
        t.outputsDone = b.status === 'failed' || b.outputs.every((o) => o.status === 'ready' || o.status === 'failed');
        t.failedOutputs = b.outputs
          .filter((o) => o.status === 'failed')
          .map((o) => `${o.name}${o.error ? ` (${o.error.code}: ${o.error.message})` : ''}`);
      }
    }
  }

  #redis: Redis | undefined;

  /** See TrackedRecording.lostS; the segments are read from the recording's Redis copy. */
  async #lostS(t: TrackedRecording, from: number, to: number): Promise<number | null> {
    if (!this.#redis) {
      this.#redis = new Redis(this.stack.env['REDIS_URL'] ?? '', { maxRetriesPerRequest: 1 });
      this.#redis.on('error', () => undefined); // Redis restarting (a fault): this figure waits
    }
    const raw = await this.#redis.get(`lw:rec:${t.id}`).catch(() => null);
    if (!raw) return null;
    const rec = JSON.parse(raw) as {
      segments?: { start: number | null; end: number | null; runAt: number | null }[];
      runFiles?: { output: string; offsetMs: number; durationMs: number }[];
      timelineAt?: number | null;
    };
    const segs = (rec.segments ?? [])
      .filter((x) => x.start !== null && x.end !== null && x.runAt !== null)
      .map((x) => [x.runAt! + x.start! * 1000, x.runAt! + x.end! * 1000] as [number, number]);
    // A run's continuous file holds its media too (the segments still queued at the stop are
    // skipped once they do): from its offset to its end on the timeline (its duration includes
    // the offset), placed by the first run's start. The churn never pauses, so no span is cut out.
    const t0 = rec.timelineAt ?? null;
    const files =
      t0 === null
        ? []
        : (rec.runFiles ?? []).filter((f) => f.output === 'raw').map((f) => [t0 + f.offsetMs, t0 + f.durationMs] as [number, number]);
    const spans = [...segs, ...files]
      .map(([a, b]) => [Math.max(from, a), Math.min(to, b)] as [number, number])
      .filter(([a, b]) => b > a)
      .sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let reach = from;
    for (const [a, b] of spans) {
      if (b <= reach) continue;
      covered += b - Math.max(a, reach);
      reach = b;
    }
    const room = this.rooms.find((r) => r.name === t.room);
    const away = (room?.absences ?? []).reduce((n, [a, b]) => n + Math.max(0, Math.min(to, b ?? to) - Math.max(from, a)), 0);
    return Math.max(0, (to - from - covered - away) / 1000);
  }

  summary(): ChurnCounts {
    const all = [...this.recordings.values()];
    return {
      ...this.counts,
      ready: all.filter((t) => t.status === 'ready').length,
      failed: all.filter((t) => t.status === 'failed').length,
      pending: all.filter((t) => t.finalAt === null).length,
      outputsPending: all.filter((t) => !t.outputsDone).length,
      outputsFailed: all.reduce((n, t) => n + t.failedOutputs.length, 0),
      mediaLostS: +all.reduce((s, t) => s + (t.lostS ?? 0), 0).toFixed(2),
      worstLostS: +Math.max(0, ...all.map((t) => t.lostS ?? 0)).toFixed(2),
      errors: this.errors.slice(-20),
    };
  }

  /** Peers connected now. */
  get live(): { publishers: number; viewers: number; recording: number } {
    return {
      publishers: this.rooms.filter((r) => r.publisher).length,
      viewers: this.rooms.reduce((n, r) => n + r.viewers.length, 0),
      recording: this.rooms.filter((r) => r.recording).length,
    };
  }

  /**
   * Ends everything: stops the recordings, closes viewers and publishers (so every room closes),
   * then waits up to `ms` for every recording to be final and its transcoded outputs done (the
   * transcode queue may hold a backlog: the idle counts are only comparable once it is empty).
   */
  async drain(ms: number): Promise<void> {
    for (const room of this.rooms) {
      while (room.busy) await sleep(50);
      room.busy = true;
    }
    const until = Date.now() + ms;
    for (const room of this.rooms) {
      while (!(await this.#stop(room)) && Date.now() < until) await sleep(1000);
    }
    for (const room of this.rooms) {
      for (const v of room.viewers.splice(0)) await v.close();
      const p = room.publisher;
      room.publisher = null;
      await p?.close();
    }
    while (Date.now() < until) {
      await this.poll();
      if ([...this.recordings.values()].every((t) => t.finalAt !== null && t.outputsDone)) break;
      await sleep(1000);
    }
    this.#redis?.disconnect();
    this.#redis = undefined;
  }
}

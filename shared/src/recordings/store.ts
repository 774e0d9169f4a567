// Recordings: the manifest in storage is the truth about each one; Redis holds an index of
// them (for listing and for the one-live-recording-per-room rule). Every change goes through
// `update()`: an optimistic compare-and-set on the Redis copy, then the manifest is written.
// `rebuildIndex()` restores the index from storage alone.
import type { Redis } from 'ioredis';
import { conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { RedisKeys } from '../redis.js';
import { recordingKeys, type Storage } from '../storage/storage.js';
import { isLive, newRecording, RecordingSchema, RECORDING_STATUSES, transition, type Recording, type RecordingStatus } from './model.js';

const CAS_SCRIPT = `
local cur = redis.call('get', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur).version ~= tonumber(ARGV[1]) then return 0 end
redis.call('set', KEYS[1], ARGV[2])
if KEYS[2] ~= KEYS[3] then
  redis.call('zrem', KEYS[2], ARGV[3])
  redis.call('zadd', KEYS[3], 0, ARGV[3])
end
return 1`;

export interface ListQuery {
  room?: string | undefined;
  status?: RecordingStatus | undefined;
  limit: number;
  /** Exclusive: the id of the last item of the previous page. */
  cursor?: string | undefined;
}

export type TransitionListener = (rec: Recording, from: RecordingStatus | null) => void;

export class RecordingStore {
  readonly #listeners: TransitionListener[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Called after every committed status change (metrics, events). Listener errors are contained. */
  onTransition(fn: TransitionListener): void {
    this.#listeners.push(fn);
  }

  #emit(rec: Recording, from: RecordingStatus | null): void {
    for (const fn of this.#listeners) {
      try {
        fn(rec, from);
      } catch {
        // A metrics or event listener must never break a state change.
      }
    }
  }

  /** Creates a recording in `starting`; 409 when the room already has a live one. */
  async create(room: string, trigger: 'api' | 'auto'): Promise<Recording> {
    const rec = newRecording({ id: newId(), room, trigger, now: this.now() });
    const claimed = await this.redis.set(this.keys.roomRecording(room), rec.id, 'NX');
    if (claimed !== 'OK') {
      const existing = await this.redis.get(this.keys.roomRecording(room));
      // A claim left by a recording that is no longer live (crash between steps) is stale.
      const other = existing ? await this.get(existing) : null;
      if (other && isLive(other.status)) {
        throw conflict('recording_in_progress', `room "${room}" is already being recorded (${other.id})`);
      }
      await this.redis.set(this.keys.roomRecording(room), rec.id);
    }
    const tx = this.redis.multi();
    tx.set(this.keys.recording(rec.id), JSON.stringify(rec));
    this.#indexAdd(tx, rec);
    await tx.exec();
    await this.#writeManifest(rec);
    this.#emit(rec, null);
    return rec;
  }

  async get(id: string): Promise<Recording | null> {
    const raw = await this.redis.get(this.keys.recording(id));
    if (raw) return RecordingSchema.parse(JSON.parse(raw));
    return null;
  }

  async mustGet(id: string): Promise<Recording> {
    const rec = await this.get(id);
    if (!rec) throw notFound('recording_not_found', `no recording with id ${id}`);
    return rec;
  }

  /** The id of the room's live recording, if any. */
  async liveRecordingOf(room: string): Promise<string | null> {
    const id = await this.redis.get(this.keys.roomRecording(room));
    if (!id) return null;
    const rec = await this.get(id);
    return rec && isLive(rec.status) ? id : null;
  }

  /**
   * Applies `fn` to the current recording and commits the result if nobody changed it
   * meanwhile (retrying otherwise). `fn` returning null means "no change".
   */
  async update(id: string, fn: (rec: Recording) => Recording | null): Promise<Recording> {
    const key = this.keys.recording(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) throw notFound('recording_not_found', `no recording with id ${id}`);
      const cur = RecordingSchema.parse(JSON.parse(raw));
      const changed = fn(cur);
      if (changed === null) return cur;
      const next: Recording = { ...changed, version: cur.version + 1 };
      // Compare-and-set in one script: WATCH would be unsafe on a connection shared by
      // concurrent callers.
      const ok = await this.redis.eval(
        CAS_SCRIPT,
        3,
        key,
        this.keys.recordingsByStatus(cur.status),
        this.keys.recordingsByStatus(next.status),
        String(cur.version),
        JSON.stringify(next),
        id,
      );
      if (ok !== 1) continue; // someone else wrote first: re-read and re-apply
      if (isLive(cur.status) && !isLive(next.status)) await this.#releaseRoom(next);
      await this.#writeManifest(next);
      if (next.status !== cur.status) this.#emit(next, cur.status);
      return next;
    }
    throw new Error(`recording ${id}: too much contention updating it`);
  }

  /** Moves to `to` (TransitionError if the lifecycle does not allow it). */
  transition(id: string, to: RecordingStatus, patch: Parameters<typeof transition>[3] = {}): Promise<Recording> {
    return this.update(id, (r) => transition(r, to, this.now(), patch));
  }

  /**
   * Marks a non-terminal recording failed with a reason; a terminal one is left as it is.
   * Outputs still pending or processing fail with it (nothing will finish them).
   */
  fail(id: string, code: string, message: string): Promise<Recording> {
    return this.update(id, (r) => {
      if (r.status === 'ready' || r.status === 'failed') return null;
      const outputs = r.outputs.map((o) => (o.status === 'ready' ? o : { ...o, status: 'failed' as const }));
      return transition({ ...r, outputs }, 'failed', this.now(), { error: { code, message } });
    });
  }

  async list(q: ListQuery): Promise<{ items: Recording[]; nextCursor: string | null }> {
    // Walk the most selective index newest-first (ULIDs sort by time). With both a room and a
    // status, the room's ids are first checked against the status index (ZMSCORE, no fetch), so
    // a room's thousands of non-matching recordings cost one round trip per batch, not a parse
    // each. The work per page is bounded; a page that hits the bound ends short with the cursor
    // where the walk stopped, so the caller pages on instead of losing what lies beyond.
    const index = q.room ? this.keys.recordingsByRoom(q.room) : q.status ? this.keys.recordingsByStatus(q.status) : this.keys.recordingsAll;
    const both = q.room !== undefined && q.status !== undefined;
    const items: Recording[] = [];
    let max = q.cursor ? `(${q.cursor}` : '+';
    let lastScanned: string | null = null;
    // One index alone is exact (a match per id but for a write in flight): the page plus one id,
    // which says whether there is more, without a second fetch.
    const batch = both ? 500 : Math.min(q.limit + 1, 500);
    for (let scanned = 0; scanned < 20 && items.length < q.limit; scanned++) {
      const walked = await this.redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, batch);
      if (walked.length === 0) return { items, nextCursor: null };
      let ids = walked;
      if (both) {
        const scores = await this.redis.zmscore(this.keys.recordingsByStatus(q.status!), ...walked);
        ids = walked.filter((_, i) => scores[i] !== null);
      }
      const raws = ids.length ? await this.redis.mget(ids.map((i) => this.keys.recording(i))) : [];
      for (let i = 0; i < ids.length; i++) {
        const raw = raws[i];
        if (!raw) continue;
        const rec = RecordingSchema.parse(JSON.parse(raw));
        if (q.status && rec.status !== q.status) continue;
        if (q.room && rec.room !== q.room) continue;
        items.push(rec);
        if (items.length === q.limit) {
          const more = i < ids.length - 1 || (await this.redis.zrevrangebylex(index, `(${rec.id}`, '-', 'LIMIT', 0, 1)).length > 0;
          return { items, nextCursor: more ? rec.id : null };
        }
      }
      lastScanned = walked[walked.length - 1]!;
      max = `(${lastScanned}`;
      if (walked.length < batch) return { items, nextCursor: null };
    }
    // The bound was hit before the page filled: go on from where the walk stopped.
    return { items, nextCursor: lastScanned };
  }

  /** Removes every stored object of the recording and its index entries. */
  async delete(id: string): Promise<void> {
    const rec = await this.mustGet(id);
    if (isLive(rec.status)) throw conflict('recording_in_progress', `recording ${id} is ${rec.status}; stop it first`);
    await this.storage.deletePrefix(recordingKeys.prefix(id));
    const tx = this.redis.multi();
    tx.del(this.keys.recording(id));
    tx.zrem(this.keys.recordingsAll, id);
    tx.zrem(this.keys.recordingsByRoom(rec.room), id);
    for (const s of RECORDING_STATUSES) tx.zrem(this.keys.recordingsByStatus(s), id);
    await tx.exec();
  }

  /** Re-creates the Redis index from the manifests in storage. Returns how many it indexed. */
  async rebuildIndex(): Promise<number> {
    const keys = (await this.storage.list('recordings/')).filter((k) => k.endsWith('/manifest.json'));
    let n = 0;
    for (const k of keys) {
      const raw = await this.storage.getBytes(k);
      if (!raw) continue;
      const parsed = RecordingSchema.safeParse(JSON.parse(raw.toString('utf8')));
      if (!parsed.success) continue;
      const rec = parsed.data;
      const tx = this.redis.multi();
      tx.set(this.keys.recording(rec.id), JSON.stringify(rec));
      this.#indexAdd(tx, rec);
      await tx.exec();
      n++;
    }
    return n;
  }

  #indexAdd(tx: ReturnType<Redis['multi']>, rec: Recording): void {
    tx.zadd(this.keys.recordingsAll, 0, rec.id);
    tx.zadd(this.keys.recordingsByRoom(rec.room), 0, rec.id);
    tx.zadd(this.keys.recordingsByStatus(rec.status), 0, rec.id);
  }

  async #releaseRoom(rec: Recording): Promise<void> {
    // Delete the room's claim only if it is still ours (a newer recording may hold it).
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
      1,
      this.keys.roomRecording(rec.room),
      rec.id,
    );
  }

  /**
   * Writes the manifest. Storage being down is not fatal to a state change (Redis already holds
   * it): the write is retried in the background, newest version only, until storage answers.
   */
  async #writeManifest(rec: Recording): Promise<void> {
    try {
      await this.#putManifest(rec);
    } catch (err) {
      this.#retryManifest(rec.id, err);
    }
  }

  async #putManifest(rec: Recording): Promise<void> {
    // Two writers can finish out of order; after writing, make sure the newest version won.
    let toWrite = rec;
    for (let i = 0; i < 3; i++) {
      await this.storage.putBytes(recordingKeys.manifest(toWrite.id), JSON.stringify(toWrite, null, 2), 'application/json');
      const latest = await this.get(toWrite.id);
      if (!latest || latest.version <= toWrite.version) return;
      toWrite = latest;
    }
  }

  /** Manifest writes waiting for storage to come back, by recording id. */
  readonly #pendingManifests = new Map<string, NodeJS.Timeout>();

  #retryManifest(id: string, err: unknown, delayMs = 500): void {
    if (this.#pendingManifests.has(id)) return; // the pending retry writes the newest version anyway
    this.onManifestError?.(id, err);
    // Pending until the retry's write has landed (or failed and was queued again), not merely
    // started: "0 pending" must mean storage has everything.
    const t = setTimeout(() => {
      void (async () => {
        let failure: unknown = null;
        try {
          const latest = await this.get(id).catch(() => undefined);
          if (latest === null) return; // deleted meanwhile
          if (latest === undefined) throw new Error('redis unavailable');
          await this.#putManifest(latest);
        } catch (e) {
          failure = e;
        } finally {
          this.#pendingManifests.delete(id);
        }
        if (failure !== null) this.#retryManifest(id, failure, Math.min(delayMs * 2, 5000));
      })();
    }, delayMs);
    t.unref();
    this.#pendingManifests.set(id, t);
  }

  /** Manifest writes still waiting for storage (0 once storage has everything). */
  get pendingManifestWrites(): number {
    return this.#pendingManifests.size;
  }

  /** Called when a manifest write fails and is queued for retry (logging). */
  onManifestError: ((id: string, err: unknown) => void) | undefined;
}

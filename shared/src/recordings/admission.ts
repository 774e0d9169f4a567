// Admission by cost. A recording costs the bitrate it is expected to carry, summed over its
// tracks (RECORD_VIDEO_COST_KBPS per video track, RECORD_AUDIO_COST_KBPS per audio track).
// Every recorder has a budget (RECORDER_COST_BUDGET_KBPS) and reports, with its heartbeat,
// what its running captures cost. A start is admitted when one live recorder has room for it
// after the costs already reserved for captures no recorder has taken yet; otherwise the SFU
// answers 503 with Retry-After. A reservation lasts until a recorder takes the run (or it
// expires), so a burst of starts cannot all count the same free room.
//
// The check and the reservation are two Redis calls, not one transaction: two starts on two
// SFU instances at the same instant may both pass. The budget is a planning figure, not a hard
// wall, so this is accepted (the recorder's job concurrency stays the hard limit).
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RedisKeys } from '../redis.js';

export interface TrackCosts {
  videoKbps: number;
  audioKbps: number;
}

/** Cost of a recording of these tracks, kbit/s. */
export function recordingCostKbps(tracks: readonly { kind: 'audio' | 'video' }[], c: TrackCosts): number {
  return tracks.reduce((n, t) => n + (t.kind === 'video' ? c.videoKbps : c.audioKbps), 0);
}

const LoadSchema = z.object({ budgetKbps: z.number(), usedKbps: z.number(), captures: z.number().int(), at: z.number() });
export type RecorderLoad = z.infer<typeof LoadSchema> & { recorderId: string };

const ReservationSchema = z.object({ costKbps: z.number(), until: z.number() });

export type Admission =
  { admitted: true; recorderId: string; freeKbps: number } | { admitted: false; freeKbps: number; reservedKbps: number; recorders: number };

export class RecorderLoads {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** A recorder's report: its budget and what its captures cost now. */
  async report(recorderId: string, load: Omit<RecorderLoad, 'recorderId' | 'at'>): Promise<void> {
    await this.redis.hset(this.keys.recorderLoads, recorderId, JSON.stringify({ ...load, at: Date.now() }));
  }

  async forget(recorderId: string): Promise<void> {
    await this.redis.hdel(this.keys.recorderLoads, recorderId);
  }

  /** Loads of the given (live) recorders; a live recorder that has not reported yet is left out. */
  async of(recorderIds: readonly string[]): Promise<RecorderLoad[]> {
    if (recorderIds.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.recorderLoads, ...recorderIds);
    const out: RecorderLoad[] = [];
    raw.forEach((r, i) => {
      if (!r) return;
      const p = LoadSchema.safeParse(JSON.parse(r));
      if (p.success) out.push({ ...p.data, recorderId: recorderIds[i]! });
    });
    return out;
  }

  /** Cost reserved for captures not taken yet (expired reservations are dropped). */
  async reservedKbps(): Promise<number> {
    const all = await this.redis.hgetall(this.keys.costReservations);
    const now = Date.now();
    let sum = 0;
    const expired: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      const p = ReservationSchema.safeParse(JSON.parse(raw));
      if (!p.success || p.data.until < now) expired.push(id);
      else sum += p.data.costKbps;
    }
    if (expired.length > 0) await this.redis.hdel(this.keys.costReservations, ...expired);
    return sum;
  }

  /**
   * Whether a recording costing `costKbps` fits on one of the live recorders, after what is
   * reserved. Unreported recorders (older versions) count as unlimited.
   */
  async admit(costKbps: number, liveRecorders: readonly string[]): Promise<Admission> {
    const loads = await this.of(liveRecorders);
    const unreported = liveRecorders.filter((id) => !loads.some((l) => l.recorderId === id));
    if (unreported.length > 0) return { admitted: true, recorderId: unreported[0]!, freeKbps: Infinity };
    const reserved = await this.reservedKbps();
    const free = loads.map((l) => ({ id: l.recorderId, free: Math.max(0, l.budgetKbps - l.usedKbps) })).sort((a, b) => b.free - a.free);
    const total = free.reduce((n, f) => n + f.free, 0) - reserved;
    // The reserved cost goes to the recorders with the most room first (what the queue does, roughly).
    const best = free[0];
    if (best && best.free - Math.max(0, reserved - free.slice(1).reduce((n, f) => n + f.free, 0)) >= costKbps && total >= costKbps) {
      return { admitted: true, recorderId: best.id, freeKbps: total };
    }
    return { admitted: false, freeKbps: Math.max(0, total), reservedKbps: reserved, recorders: loads.length };
  }

  /** Holds `costKbps` for a recording until a recorder takes it, or for `ttlMs`. */
  async reserve(recordingId: string, costKbps: number, ttlMs: number): Promise<void> {
    await this.redis.hset(this.keys.costReservations, recordingId, JSON.stringify({ costKbps, until: Date.now() + ttlMs }));
  }

  /** A recorder took the recording (its cost is in that recorder's report from now on). */
  async release(recordingId: string): Promise<void> {
    await this.redis.hdel(this.keys.costReservations, recordingId);
  }
}

// Admission by cost. A recording costs the bitrate it is expected to carry, summed over its
// tracks (RECORD_VIDEO_COST_KBPS per video track, RECORD_AUDIO_COST_KBPS per audio track).
// Every recorder has a budget (RECORDER_COST_BUDGET_KBPS) and reports, with its heartbeat,
// what its running captures cost. A start is admitted when one live recorder has room for it
// after the costs already reserved for captures no recorder has taken yet; otherwise the SFU
// answers 503 with Retry-After. A reservation lasts until a recorder takes the run (or it
// expires), so a burst of starts cannot all count the same free room.
//
// The check and the reservation are one Redis script (admitAndReserve): starts on several SFU
// instances at the same instant are decided one after the other, so they cannot all count the
// same free room. The start reserves under a token before its recording exists and moves the
// reservation to the recording's id once created (`rekey`); a start that dies in between leaves
// a reservation that expires by itself.
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
   * reserved; holds nothing. Unreported recorders (older versions) count as unlimited. The
   * decision is the one script admitAndReserve runs, asked not to hold.
   */
  admit(costKbps: number, liveRecorders: readonly string[]): Promise<Admission> {
    return this.#decide('', costKbps, liveRecorders, 0);
  }

  /**
   * `admit` and `reserve` as one step (a Lua script, so atomic across SFU instances): when the
   * recording fits, `costKbps` is held under `reservationId` for `ttlMs`.
   */
  admitAndReserve(reservationId: string, costKbps: number, liveRecorders: readonly string[], ttlMs: number): Promise<Admission> {
    if (reservationId === '') throw new RangeError('a reservation needs an id');
    return this.#decide(reservationId, costKbps, liveRecorders, ttlMs);
  }

  /** Runs ADMIT_AND_RESERVE; an empty reservation id decides without holding. */
  async #decide(reservationId: string, costKbps: number, liveRecorders: readonly string[], ttlMs: number): Promise<Admission> {
    const r = (await this.redis.eval(
      ADMIT_AND_RESERVE,
      2,
      this.keys.recorderLoads,
      this.keys.costReservations,
      reservationId,
      String(costKbps),
      String(Date.now()),
      String(ttlMs),
      ...liveRecorders,
    )) as [number, string, string, string, number];
    const [admitted, recorderId, free, reserved, recorders] = r;
    if (admitted === 1) return { admitted: true, recorderId, freeKbps: free === 'inf' ? Infinity : Number(free) };
    return { admitted: false, freeKbps: Math.max(0, Number(free)), reservedKbps: Number(reserved), recorders };
  }

  /** Moves a reservation to another id (from the start's token to the recording's id); none there, nothing moves. */
  async rekey(from: string, to: string): Promise<void> {
    await this.redis.eval(REKEY, 1, this.keys.costReservations, from, to);
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

/**
 * KEYS: loads hash, reservations hash. ARGV: reservation id ('' = decide only, hold nothing),
 * cost, now (ms), ttl (ms), live recorder ids…; answers {admitted, recorderId, free, reserved,
 * recorders} (numbers as strings: Lua numbers would be truncated to integers).
 */
const ADMIT_AND_RESERVE = `
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local free = {}
local unreported = nil
for i = 5, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local ok, l = false, nil
  if raw then ok, l = pcall(cjson.decode, raw) end
  if ok and type(l) == 'table' and type(l.budgetKbps) == 'number' and type(l.usedKbps) == 'number' then
    free[#free + 1] = { id = ARGV[i], free = math.max(0, l.budgetKbps - l.usedKbps) }
  elseif unreported == nil then
    unreported = ARGV[i]
  end
end
local function hold()
  if ARGV[1] == '' then return end
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({ costKbps = cost, ['until'] = now + ttl }))
end
if unreported ~= nil then
  hold()
  return { 1, unreported, 'inf', '0', #free }
end
local reserved = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, r = pcall(cjson.decode, all[i + 1])
  if not ok or type(r) ~= 'table' or type(r.costKbps) ~= 'number' or type(r['until']) ~= 'number' or r['until'] < now then
    redis.call('HDEL', KEYS[2], all[i])
  else
    reserved = reserved + r.costKbps
  end
end
table.sort(free, function(a, b) return a.free > b.free end)
local total = -reserved
local rest = 0
for i, f in ipairs(free) do
  total = total + f.free
  if i > 1 then rest = rest + f.free end
end
local best = free[1]
if best ~= nil and best.free - math.max(0, reserved - rest) >= cost and total >= cost then
  hold()
  return { 1, best.id, tostring(total), tostring(reserved), #free }
end
return { 0, '', tostring(total), tostring(reserved), #free }
`;

const REKEY = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  redis.call('HSET', KEYS[1], ARGV[2], v)
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return v and 1 or 0
`;

// The room → SFU instance registry in Redis. An instance heartbeats its own key (with a TTL)
// and refreshes the TTL of the rooms it owns; when it dies both expire, so its rooms are free
// again within `ttlMs`. A room is claimed atomically: the first live instance wins, everybody
// else is told the owner (and redirects clients there).
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis.js';

export interface InstanceInfo {
  id: string;
  /** Origin clients use to reach this instance (redirect target). */
  publicUrl: string;
  /** Origin other services use to reach this instance's SFU HTTP server. */
  internalUrl: string;
  startedAt: string;
}

export interface RoomInfo {
  name: string;
  instance: string;
  publishers: number;
  subscribers: number;
  recordingId: string | null;
  createdAt: string;
}

export type ClaimResult = { owned: true } | { owned: false; owner: InstanceInfo };

// KEYS[1] room hash, KEYS[2] rooms set; ARGV: me, ttlMs, now, instance key prefix, name.
// Claims the room when it is unowned or its owner's heartbeat key is gone.
const CLAIM = `
local owner = redis.call('hget', KEYS[1], 'instance')
if owner and owner ~= ARGV[1] and redis.call('exists', ARGV[4] .. owner) == 1 then
  return owner
end
if owner ~= ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[1], 'name', ARGV[5], 'instance', ARGV[1], 'publishers', 0, 'subscribers', 0,
    'recordingId', '', 'createdAt', ARGV[3])
end
redis.call('pexpire', KEYS[1], ARGV[2])
redis.call('sadd', KEYS[2], ARGV[5])
return ARGV[1]`;

// Deletes the room hash only if this instance still owns it.
const RELEASE = `
if redis.call('hget', KEYS[1], 'instance') == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('srem', KEYS[2], ARGV[2])
  return 1
end
return 0`;

// Sets fields of the room hash only while it exists: a late update (a recording ending after its
// room closed) must not recreate a released entry as a key with no owner and no TTL.
const UPDATE = `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV))
return 1`;

export class RoomRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** How long a silent instance keeps its rooms, ms. */
    private readonly ttlMs = 10_000,
  ) {}

  async heartbeat(me: InstanceInfo, ownedRooms: Iterable<string>): Promise<void> {
    const tx = this.redis.multi();
    tx.set(this.keys.instance(me.id), JSON.stringify(me), 'PX', this.ttlMs);
    tx.sadd(this.keys.instances, me.id);
    for (const room of ownedRooms) tx.pexpire(this.keys.room(room), this.ttlMs);
    await tx.exec();
  }

  async unregister(instanceId: string): Promise<void> {
    await this.redis.multi().del(this.keys.instance(instanceId)).srem(this.keys.instances, instanceId).exec();
  }

  async instance(id: string): Promise<InstanceInfo | null> {
    const raw = await this.redis.get(this.keys.instance(id));
    return raw ? (JSON.parse(raw) as InstanceInfo) : null;
  }

  /** Claims `room` for `me`, or names the live instance that owns it. */
  async claim(room: string, me: string): Promise<ClaimResult> {
    const owner = (await this.redis.eval(
      CLAIM,
      2,
      this.keys.room(room),
      this.keys.rooms,
      me,
      String(this.ttlMs),
      new Date().toISOString(),
      this.keys.instance(''),
      room,
    )) as string;
    if (owner === me) return { owned: true };
    const info = await this.instance(owner);
    if (!info) return this.claim(room, me); // owner died between the two calls
    return { owned: false, owner: info };
  }

  async update(room: string, fields: Partial<Pick<RoomInfo, 'publishers' | 'subscribers' | 'recordingId'>>): Promise<void> {
    const flat: (string | number)[] = [];
    for (const [k, v] of Object.entries(fields)) flat.push(k, v === null ? '' : (v as string | number));
    if (flat.length > 0) await this.redis.eval(UPDATE, 1, this.keys.room(room), ...flat);
  }

  async release(room: string, me: string): Promise<void> {
    await this.redis.eval(RELEASE, 2, this.keys.room(room), this.keys.rooms, me, room);
  }

  /** The room's entry, or null when no live instance holds it. */
  async get(room: string): Promise<RoomInfo | null> {
    const h = await this.redis.hgetall(this.keys.room(room));
    if (!h['instance']) return null;
    return toRoomInfo(room, h);
  }

  /** Where the room lives: its owner's addresses, or null. */
  async locate(room: string): Promise<{ room: RoomInfo; owner: InstanceInfo } | null> {
    const info = await this.get(room);
    if (!info) return null;
    const owner = await this.instance(info.instance);
    return owner ? { room: info, owner } : null;
  }

  async list(): Promise<RoomInfo[]> {
    const names = await this.redis.smembers(this.keys.rooms);
    if (names.length === 0) return [];
    const tx = this.redis.multi();
    for (const n of names) tx.hgetall(this.keys.room(n));
    const res = (await tx.exec()) ?? [];
    const rooms: RoomInfo[] = [];
    const stale: string[] = [];
    names.forEach((n, i) => {
      const h = res[i]?.[1] as Record<string, string> | undefined;
      if (h && h['instance']) rooms.push(toRoomInfo(n, h));
      else stale.push(n);
    });
    if (stale.length > 0) await this.redis.srem(this.keys.rooms, ...stale);
    return rooms.sort((a, b) => a.name.localeCompare(b.name));
  }
}

function toRoomInfo(name: string, h: Record<string, string>): RoomInfo {
  return {
    name,
    instance: h['instance'] ?? '',
    publishers: Number(h['publishers'] ?? 0),
    subscribers: Number(h['subscribers'] ?? 0),
    recordingId: h['recordingId'] ? h['recordingId'] : null,
    createdAt: h['createdAt'] ?? '',
  };
}

// Media-plane metrics read from mediasoup at scrape time: what publishers' streams lose and how
// often the SFU asks them for keyframes (viewers joining, loss, recordings starting). mediasoup
// counts per producer since it was created; CumulativeTracker turns that into counters that
// survive producers coming and going.
import type { types as ms } from 'mediasoup';
import { Counter, CumulativeTracker, type Registry } from '@live-webrtc/shared';
import type { Room } from './media/room.js';

interface InboundStats {
  type: string;
  kind?: string;
  packetCount?: number;
  packetsLost?: number;
  pliCount?: number;
  firCount?: number;
}

export function registerMediaMetrics(registry: Registry, rooms: () => Room[]): void {
  const counters = {
    received: new Counter({
      name: 'lw_sfu_rtp_packets_received_total',
      help: 'RTP packets received from publishers, by media kind',
      labelNames: ['kind'],
      registers: [registry],
      collect: () => refresh(),
    }),
    lost: new Counter({
      name: 'lw_sfu_rtp_packets_lost_total',
      help: 'RTP packets publishers sent that never arrived (receiver reports), by media kind',
      labelNames: ['kind'],
      registers: [registry],
      collect: () => refresh(),
    }),
    keyframes: new Counter({
      name: 'lw_sfu_keyframe_requests_total',
      help: 'Keyframe requests (PLI + FIR) the SFU sent to publishers',
      labelNames: ['kind'],
      registers: [registry],
      collect: () => refresh(),
    }),
  };
  for (const c of Object.values(counters)) for (const kind of ['audio', 'video']) c.inc({ kind }, 0);
  const trackers = {
    received: new CumulativeTracker(counters.received),
    lost: new CumulativeTracker(counters.lost),
    keyframes: new CumulativeTracker(counters.keyframes),
  };

  // One round of getStats per scrape, shared by the three counters' collect().
  let pending: Promise<void> | null = null;
  let at = 0;
  const refresh = (): Promise<void> => {
    if (pending && Date.now() - at < 1000) return pending;
    at = Date.now();
    pending = (async () => {
      const samples = { received: new Map(), lost: new Map(), keyframes: new Map() } as Record<
        keyof typeof trackers,
        Map<string, [Record<string, string>, number]>
      >;
      const producers = rooms().flatMap((r) => r.producers);
      await Promise.all(
        producers.map(async (p: ms.Producer) => {
          const stats = ((await p.getStats().catch(() => [])) as InboundStats[]).filter((s) => s.type === 'inbound-rtp');
          const labels = { kind: p.kind };
          stats.forEach((s, i) => {
            const id = `${p.id}:${i}`;
            samples.received.set(id, [labels, s.packetCount ?? 0]);
            samples.lost.set(id, [labels, Math.max(0, s.packetsLost ?? 0)]);
            samples.keyframes.set(id, [labels, (s.pliCount ?? 0) + (s.firCount ?? 0)]);
          });
        }),
      );
      for (const k of Object.keys(trackers) as (keyof typeof trackers)[]) trackers[k].update(samples[k]);
    })();
    return pending;
  };
}

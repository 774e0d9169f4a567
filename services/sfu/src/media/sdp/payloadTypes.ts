// How mediasoup 3.8.4 numbers a router's codecs, and how to choose `mediaCodecs` so the
// numbering comes out as a viewer's offer has it — RTX included.
//
// From node_modules/mediasoup/lib/ortc.js, generateRouterRtpCapabilities(mediaCodecs):
//   - a codec with `preferredPayloadType` keeps it, and that PT is removed from a working copy
//     of `DynamicPayloadTypes` = [100…127, 96…99] (this order);
//   - right after each *video* codec, its RTX codec gets `dynamicPayloadTypes.shift()`, the
//     first PT still in that list — RTX PTs cannot be chosen through the API;
//   - a `preferredPayloadType` equal to one already in the capabilities (e.g. taken by an
//     earlier codec's RTX) throws `TypeError('duplicated codec.preferredPayloadType')`.
// So the RTX PT of a video codec is decided by which PTs earlier entries took. Listing the
// codecs in a chosen order, with audio "placeholder" entries that only burn PTs, moves the
// head of that list onto the PT the viewer's offer uses for that codec's RTX. planRouterCodecs
// searches for the order that aligns the most RTX PTs and never hits the duplicate error.
import type { types as ms } from 'mediasoup';
import { kindOf, PLACEHOLDER_CLOCK_RATE, PLACEHOLDER_MIME_TYPE } from './codecs.js';

/** ortc.js DynamicPayloadTypes, in its order. */
export const MEDIASOUP_DYNAMIC_PAYLOAD_TYPES: readonly number[] = [
  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126,
  127, 96, 97, 98, 99,
];

/**
 * The payload types mediasoup would assign: media PT → RTX PT for every video codec.
 * Throws like ortc.generateRouterRtpCapabilities on duplicates or exhaustion.
 */
export function routerRtxPayloadTypes(mediaCodecs: readonly ms.RtpCodecCapability[]): Map<number, number> {
  const dynamic = [...MEDIASOUP_DYNAMIC_PAYLOAD_TYPES];
  const used = new Set<number>();
  const rtx = new Map<number, number>();
  for (const codec of mediaCodecs) {
    const pt = codec.preferredPayloadType;
    if (typeof pt !== 'number') throw new TypeError(`${codec.mimeType} has no preferredPayloadType`);
    if (used.has(pt)) throw new TypeError(`duplicated codec.preferredPayloadType ${pt}`);
    const idx = dynamic.indexOf(pt);
    if (idx > -1) dynamic.splice(idx, 1);
    used.add(pt);
    if (kindOf(codec.mimeType) === 'video') {
      const rtxPt = dynamic.shift();
      if (rtxPt === undefined) throw new Error('cannot allocate more dynamic codec payload types');
      used.add(rtxPt);
      rtx.set(pt, rtxPt);
    }
  }
  return rtx;
}

export interface PlannedCodec {
  /** The codec, with `preferredPayloadType` set to the PT it must have. */
  codec: ms.RtpCodecCapability;
  /** Video only: the RTX PT we would like mediasoup to allocate for it. */
  rtxPayloadType?: number;
}

export interface RouterCodecPlan {
  /** Pass to worker.createRouter({ mediaCodecs }). */
  mediaCodecs: ms.RtpCodecCapability[];
  /** Media PT → RTX PT the router will have (video codecs). */
  rtx: Map<number, number>;
  /** Media PTs whose RTX PT came out as wanted. */
  alignedRtx: Set<number>;
}

/** The search has 2^n states; viewer.ts never plans more codecs than this. */
export const MAX_PLANNED_CODECS = 12;

/**
 * Orders `entries` and inserts placeholder codecs so that mediasoup gives as many video
 * codecs as possible their wanted RTX PT, preferring fewer placeholders. Entries' PTs must be
 * distinct. Returns undefined when no order avoids the duplicate-PT error — e.g. two video
 * codecs at 100 and 101: whichever comes first, its RTX takes the other's PT (the caller then
 * drops a codec). The search is over (set of entries placed, index of the first PT not yet taken
 * from the dynamic list): PTs behind that index are gone, the others are gone exactly when
 * their entry was placed — small enough to explore exhaustively with memoisation.
 */
export function planRouterCodecs(entries: readonly PlannedCodec[]): RouterCodecPlan | undefined {
  const pts = entries.map((e) => e.codec.preferredPayloadType);
  if (pts.some((pt) => typeof pt !== 'number') || new Set(pts).size !== pts.length) {
    throw new TypeError('planRouterCodecs: every entry needs a distinct preferredPayloadType');
  }
  if (entries.length > MAX_PLANNED_CODECS) throw new RangeError(`planRouterCodecs: more than ${MAX_PLANNED_CODECS} codecs`);
  const order = search(entries);
  if (!order) return undefined;
  const mediaCodecs = order.map((step) => (typeof step === 'number' ? placeholder(step) : (entries[step.entry] as PlannedCodec).codec));
  const rtx = routerRtxPayloadTypes(mediaCodecs);
  const alignedRtx = new Set<number>();
  for (const e of entries) {
    const pt = e.codec.preferredPayloadType as number;
    if (e.rtxPayloadType !== undefined && rtx.get(pt) === e.rtxPayloadType) alignedRtx.add(pt);
  }
  return { mediaCodecs, rtx, alignedRtx };
}

/** A step is an entry index or a PT burnt by a placeholder. */
type Step = { entry: number } | number;

function placeholder(pt: number): ms.RtpCodecCapability {
  return { kind: 'audio', mimeType: PLACEHOLDER_MIME_TYPE, clockRate: PLACEHOLDER_CLOCK_RATE, channels: 1, preferredPayloadType: pt };
}

interface Outcome {
  score: number;
  steps: Step[];
}

function search(entries: readonly PlannedCodec[]): Step[] | undefined {
  const D = MEDIASOUP_DYNAMIC_PAYLOAD_TYPES;
  const n = entries.length;
  const full = (1 << n) - 1;
  const ptOf = entries.map((e) => e.codec.preferredPayloadType as number);
  const isVideo = entries.map((e) => kindOf(e.codec.mimeType) === 'video');
  const ownerOf = new Map<number, number>(ptOf.map((pt, i) => [pt, i]));
  const memo = new Map<number, Outcome | null>();

  // First index ≥ c whose PT is still in mediasoup's dynamic list.
  const firstFree = (c: number, mask: number): number => {
    let i = c;
    while (i < D.length) {
      const owner = ownerOf.get(D[i] as number);
      if (owner === undefined || (mask & (1 << owner)) === 0) return i;
      i++;
    }
    return i;
  };
  const pendingOwner = (pt: number, mask: number): boolean => {
    const owner = ownerOf.get(pt);
    return owner !== undefined && (mask & (1 << owner)) === 0;
  };

  const solve = (mask: number, c: number): Outcome | null => {
    if (mask === full) return { score: 0, steps: [] };
    const key = mask * 64 + c;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let best: Outcome | null = null;
    const consider = (outcome: Outcome | null, gain: number, step: Step): void => {
      if (!outcome) return;
      const score = outcome.score + gain;
      if (!best || score > best.score) best = { score, steps: [step, ...outcome.steps] };
    };
    for (let i = 0; i < n; i++) {
      if (mask & (1 << i)) continue;
      const next = mask | (1 << i);
      if (!isVideo[i]) {
        consider(solve(next, c), 0, { entry: i });
        continue;
      }
      const r = firstFree(c, next);
      if (r >= D.length) continue; // mediasoup: "cannot allocate more dynamic codec payload types"
      const rtxPt = D[r] as number;
      if (pendingOwner(rtxPt, next)) continue; // would make a later entry a duplicate PT
      const aligned = entries[i]?.rtxPayloadType === rtxPt;
      consider(solve(next, r + 1), aligned ? 1000 : 0, { entry: i });
    }
    const b = firstFree(c, mask);
    if (b < D.length && !pendingOwner(D[b] as number, mask)) consider(solve(mask, b + 1), -1, D[b] as number);
    memo.set(key, best);
    return best;
  };

  const outcome = solve(0, 0);
  return outcome?.steps;
}

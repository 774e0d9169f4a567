// WHEP viewers. mediasoup 3.8.4 consumers send with their ROUTER's payload types and header
// extension ids (ortc.getConsumableRtpParameters copies the router capability's
// preferredPayloadType / preferredId; getConsumerRtpParameters only filters). A browser
// decodes by the payload types of its own offer, so each viewer consumes from a router whose
// numbering is its offer's: viewerProfile() says how to create that router, and
// viewerRtpCapabilities() what to pass to transport.consume() on it.
import type { types as ms } from 'mediasoup';
import { describeCodec, isMediaCodec, isPlaceholder, isRtx, kindOf, paramsOf, sameCodec, type MediaKind } from './codecs.js';
import { h264ProfileOf } from './h264.js';
import type { MediaOffer, OfferedCodec, SessionOffer } from './offer.js';
import { MAX_PLANNED_CODECS, planRouterCodecs, type PlannedCodec, type RouterCodecPlan } from './payloadTypes.js';

export interface ViewerProfile {
  /** Same key ⇔ same mediaCodecs: viewers whose offers number codecs alike share a router. */
  key: string;
  /** worker.createRouter({ mediaCodecs }) — may include placeholder entries, see payloadTypes.ts. */
  mediaCodecs: ms.RtpCodecCapability[];
  /** Offer payload types of video codecs whose RTX PT the router will share with the offer. */
  rtxAligned: number[];
}

/** RTCP feedback a viewer may get, when its offer lists it too. */
const VIEWER_FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc']);

/**
 * The sections a viewer receives on. A viewer offer's sections are recvonly (sendrecv is
 * accepted too: we answer sendonly).
 */
function receivingSections(offer: SessionOffer): MediaOffer[] {
  return offer.media.filter((m) => m.port !== 0 && (m.direction === 'recvonly' || m.direction === 'sendrecv'));
}

/** The offered codec at `pt` in any of `sections`, if all sections agree on what `pt` is. */
function offeredAt(sections: MediaOffer[], kind: MediaKind, pt: number): OfferedCodec | undefined {
  const hits = sections.filter((m) => m.kind === kind).flatMap((m) => m.codecs.filter((c) => c.payloadType === pt));
  const first = hits[0];
  return first && hits.every((c) => sameCodec(c, first) && c.rtxPayloadType === first.rtxPayloadType) ? first : undefined;
}

/**
 * The codecs for a router numbered as this viewer's offer: each supported codec the offer
 * accepts, with `preferredPayloadType` = the offer's PT for it (H.264 matched by
 * packetization-mode and profile, VP9 by profile-id, as ortc.matchCodecs does). Codecs are
 * ordered — and placeholders added — so that mediasoup also gives RTX the offer's PTs where
 * that is possible (payloadTypes.ts); for Chromium's and Safari's numbering it is possible for
 * every codec. Returns no codecs when the offer accepts none of `supportedCodecs`.
 */
export function viewerProfile(offer: SessionOffer, supportedCodecs: readonly ms.RtpCodecCapability[]): ViewerProfile {
  const sections = receivingSections(offer);
  const entries: PlannedCodec[] = [];
  const taken = new Set<number>();
  for (const supported of supportedCodecs) {
    if (!isMediaCodec(supported) || isRtx(supported) || entries.length >= MAX_PLANNED_CODECS) continue;
    const kind = kindOf(supported.mimeType);
    if (!kind) continue;
    const candidates = sections
      .filter((m) => m.kind === kind)
      .flatMap((m) => m.codecs)
      .filter((c) => sameCodec(supported, c) && !taken.has(c.payloadType) && offeredAt(sections, kind, c.payloadType) !== undefined);
    // Prefer the exact profile-level-id (Chromium offers several levels of one profile).
    const exact = candidates.find((c) => sameProfileLevelId(supported, c));
    const chosen = exact ?? candidates[0];
    if (!chosen) continue;
    taken.add(chosen.payloadType);
    const codec: ms.RtpCodecCapability = {
      kind,
      mimeType: supported.mimeType,
      clockRate: supported.clockRate,
      preferredPayloadType: chosen.payloadType,
      parameters: { ...paramsOf(supported) },
      rtcpFeedback: [...(supported.rtcpFeedback ?? [])],
    };
    if (kind === 'audio') codec.channels = supported.channels ?? 1;
    const entry: PlannedCodec = { codec };
    if (kind === 'video' && chosen.rtxPayloadType !== undefined) entry.rtxPayloadType = chosen.rtxPayloadType;
    entries.push(entry);
  }

  // Some numberings admit no valid order (two video codecs at 100 and 101: the first one's
  // RTX takes the other's PT and createRouter throws). Drop the least preferred video codec
  // until one exists; audio codecs never take part in that conflict.
  let plan: RouterCodecPlan | undefined = planRouterCodecs(entries);
  while (!plan) {
    const lastVideo = entries.map((e) => kindOf(e.codec.mimeType)).lastIndexOf('video');
    if (lastVideo < 0) break;
    entries.splice(lastVideo, 1);
    plan = planRouterCodecs(entries);
  }
  const mediaCodecs = plan?.mediaCodecs ?? [];
  const key = entries
    .map(
      (e) =>
        `${describeCodec(e.codec)}=${String(e.codec.preferredPayloadType)}${e.rtxPayloadType === undefined ? '' : `/${e.rtxPayloadType}`}`,
    )
    .join(',');
  return { key, mediaCodecs, rtxAligned: [...(plan?.alignedRtx ?? [])] };
}

function sameProfileLevelId(a: { parameters?: unknown }, b: { parameters?: unknown }): boolean {
  const pa = paramsOf(a)['profile-level-id'];
  const pb = paramsOf(b)['profile-level-id'];
  if (pa === undefined && pb === undefined) return true;
  if (pa === undefined || pb === undefined) return false;
  const la = h264ProfileOf({ 'profile-level-id': pa });
  const lb = h264ProfileOf({ 'profile-level-id': pb });
  return la !== undefined && lb !== undefined && la.profile === lb.profile && la.level === lb.level;
}

/**
 * Capabilities for transport.consume() on a router from viewerProfile() (or any router): only
 * what the viewer will decode exactly as mediasoup will send it.
 *
 * - Codecs: a router codec is kept only if the offer has the same codec at the same PT.
 * - RTX: kept only when the router's RTX PT for *every* kept video codec is the offer's RTX PT
 *   for it. ortc.getConsumerRtpParameters matches capability codecs with matchCodecs(), and for
 *   `video/rtx` that compares only MIME type and clock rate — not apt — so one RTX entry in the
 *   capabilities enables RTX for whatever codec the producer uses, at the router's RTX PT.
 *   Pass the `producer` (anything with its kind and rtpParameters) to judge only the codecs
 *   that producer can be consumed with: then a viewer whose other codecs cannot be aligned
 *   (Firefox numbers VP8 120 and VP9 121 next to each other, so only one of them can have its
 *   RTX PT) still gets RTX for this producer. Without RTX, mediasoup still answers NACKs,
 *   resending the original packet (RtpStreamSend::FillRetransmissionContainer).
 * - Header extensions: kept only where URI *and* id equal the router's. A 3.8.4 router's
 *   extensions and ids are fixed (lib/supportedRtpCapabilities.js: mid 1, abs-send-time 4,
 *   transport-cc 5, audio-level 10, …; createRouter takes no extension list), consumers send
 *   those ids (getConsumableRtpParameters), and getConsumerRtpParameters keeps an extension
 *   only if the capabilities have `preferredId === id && uri === uri`. Chrome rejects an answer
 *   that renumbers its extensions ("RTP extension ID reassignment not supported") and Chromium
 *   numbers them 1 audio-level, 2 abs-send-time, 3 transport-cc, … — so Chrome and Safari
 *   viewers get no extensions at all: no transport-cc, hence no bandwidth estimation towards
 *   them (getConsumerRtpParameters then also drops goog-remb/transport-cc feedback). Firefox
 *   numbers abs-send-time 4 and keeps it, with goog-remb (REMB-based estimation).
 *   That filter ignores the kind, so without `producer` an audio consumer also gets a
 *   video-only extension of the same id (harmless under BUNDLE, where an id means one URI;
 *   the answer leaves it out of the audio section); with `producer`, only its kind's
 *   extensions are given. sdes:mid is never given: a 3.8.4 consumer writes its own
 *   rtpParameters.mid — a per-transport counter unless consume() gets `mid` — and a wrong
 *   MID would misroute packets in the browser.
 * - RTCP feedback: the router's, limited to what the offer lists for that codec.
 */
export function viewerRtpCapabilities(
  offer: SessionOffer,
  routerCaps: ms.RtpCapabilities,
  producer?: { kind: MediaKind; rtpParameters: ms.RtpParameters },
): ms.RtpCapabilities {
  const sections = receivingSections(offer).filter((m) => !producer || m.kind === producer.kind);
  const producerCodecs = producer?.rtpParameters.codecs;
  const routerCodecs = routerCaps.codecs ?? [];
  const kept: { router: ms.RtpCodecCapability; offered: OfferedCodec; kind: MediaKind }[] = [];
  for (const router of routerCodecs) {
    const kind = kindOf(router.mimeType);
    if (!kind || isRtx(router) || isPlaceholder(router) || typeof router.preferredPayloadType !== 'number') continue;
    const offered = offeredAt(sections, kind, router.preferredPayloadType);
    if (!offered || !sameCodec(router, offered)) continue;
    kept.push({ router, offered, kind });
  }

  const routerRtxPt = (pt: number): number | undefined =>
    routerCodecs.find((c) => isRtx(c) && paramsOf(c)['apt'] === pt)?.preferredPayloadType;
  const aligned = (k: (typeof kept)[number]): boolean =>
    k.offered.rtxPayloadType !== undefined && routerRtxPt(k.offered.payloadType) === k.offered.rtxPayloadType;
  const judged = kept.filter(
    (k) => k.kind === 'video' && (!producerCodecs || producerCodecs.some((p) => !isRtx(p) && sameCodec(p, k.router))),
  );
  const withRtx = judged.length > 0 && judged.every(aligned);

  const codecs: ms.RtpCodecCapability[] = [];
  for (const k of kept) {
    const offeredFb = new Set(k.offered.rtcpFeedback.map(fbKey));
    const codec: ms.RtpCodecCapability = {
      kind: k.kind,
      mimeType: k.router.mimeType,
      preferredPayloadType: k.offered.payloadType,
      clockRate: k.router.clockRate,
      parameters: { ...k.offered.parameters },
      rtcpFeedback: (k.router.rtcpFeedback ?? [])
        .filter((fb) => VIEWER_FEEDBACK.has(fbKey(fb)) && offeredFb.has(fbKey(fb)))
        .map((fb) => (fb.parameter ? { type: fb.type, parameter: fb.parameter } : { type: fb.type })),
    };
    if (k.kind === 'audio') codec.channels = k.router.channels ?? 1;
    codecs.push(codec);
    if (withRtx && k.kind === 'video' && aligned(k)) {
      codecs.push({
        kind: 'video',
        mimeType: 'video/rtx',
        preferredPayloadType: k.offered.rtxPayloadType as number,
        clockRate: k.router.clockRate,
        parameters: { apt: k.offered.payloadType },
        rtcpFeedback: [],
      });
    }
  }

  const headerExtensions: ms.RtpHeaderExtension[] = [];
  for (const m of sections) {
    for (const ext of m.headerExtensions) {
      if (ext.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid') continue;
      if (ext.direction !== 'sendrecv' && ext.direction !== 'recvonly') continue; // the viewer must accept it
      const routerExt = (routerCaps.headerExtensions ?? []).find(
        (r) =>
          r.kind === m.kind &&
          r.uri === ext.uri &&
          r.preferredId === ext.id &&
          (r.direction ?? 'sendrecv') !== 'recvonly' &&
          r.direction !== 'inactive',
      );
      if (!routerExt || headerExtensions.some((h) => h.kind === m.kind && h.uri === ext.uri)) continue;
      headerExtensions.push({ kind: m.kind, uri: ext.uri, preferredId: ext.id, preferredEncrypt: false, direction: 'sendrecv' });
    }
  }
  return { codecs, headerExtensions };
}

function fbKey(fb: ms.RtcpFeedback): string {
  return fb.parameter ? `${fb.type} ${fb.parameter}` : fb.type;
}

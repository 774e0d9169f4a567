// WHIP publishers: the parameters for transport.produce() of one offered m-section. They use
// the OFFER's payload types and extension ids — what the publisher will actually send —
// and mediasoup maps them onto the router's numbering (ortc.getProducerRtpParametersMapping).
import type { types as ms } from 'mediasoup';
import { SdpError } from './errors.js';
import { isMediaCodec, isPlaceholder, isRtx, paramsOf, sameCodec } from './codecs.js';
import type { MediaOffer, OfferedCodec, OfferedRid } from './offer.js';

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';

/**
 * produce() parameters for a sendonly/sendrecv m-section, or null when the router supports
 * none of its codecs (or the section does not send). Throws SdpError('bad_sdp') when the
 * section's RTP could not be routed to the producer at all (no SSRC, RID or MID to match).
 *
 * One media codec is kept — the first offered one the router supports — plus its RTX, as
 * mediasoup-client does (reduceCodecs): the answer then names only that codec, so the
 * publisher cannot switch to another one mid-stream, and every viewer router only needs that
 * codec for pipeToRouter() to succeed.
 */
export function publishRtpParameters(media: MediaOffer, routerCaps: ms.RtpCapabilities): ms.RtpParameters | null {
  if (media.port === 0 || (media.direction !== 'sendonly' && media.direction !== 'sendrecv')) return null;
  const routerCodecs = (routerCaps.codecs ?? []).filter((c) => c.kind === media.kind);

  let chosen: { offered: OfferedCodec; router: ms.RtpCodecCapability } | undefined;
  for (const offered of media.codecs) {
    if (!isMediaCodec(offered)) continue;
    // ortc.getProducerRtpParametersMapping matches strictly (H.264 profile, VP9 profile-id).
    const router = routerCodecs.find((r) => !isRtx(r) && !isPlaceholder(r) && sameCodec(offered, r));
    if (router) {
      chosen = { offered, router };
      break;
    }
  }
  if (!chosen) return null;
  const { offered, router } = chosen;

  const routerFb = new Set((router.rtcpFeedback ?? []).map(fbKey));
  const codecs: ms.RtpCodecParameters[] = [
    {
      mimeType: offered.mimeType,
      payloadType: offered.payloadType,
      clockRate: offered.clockRate,
      ...(media.kind === 'audio' ? { channels: offered.channels ?? 1 } : {}),
      parameters: { ...offered.parameters },
      // Feedback both sides know: the answer tells the publisher which RTCP to expect.
      rtcpFeedback: offered.rtcpFeedback.filter((fb) => routerFb.has(fbKey(fb))),
    },
  ];
  // produce() throws "no RTX codec for capability codec" unless the router has RTX for it.
  const routerRtx = (routerCaps.codecs ?? []).find((c) => isRtx(c) && paramsOf(c)['apt'] === router.preferredPayloadType);
  const withRtx = offered.rtxPayloadType !== undefined && routerRtx !== undefined;
  if (withRtx) {
    codecs.push({
      mimeType: `${media.kind}/rtx`,
      payloadType: offered.rtxPayloadType as number,
      clockRate: offered.clockRate,
      parameters: { apt: offered.payloadType },
      rtcpFeedback: [],
    });
  }

  // Extensions the router can receive for this kind, with the offer's ids.
  const headerExtensions: ms.RtpHeaderExtensionParameters[] = media.headerExtensions
    .filter((ext) => ext.direction === 'sendrecv' || ext.direction === 'sendonly')
    .filter((ext) =>
      (routerCaps.headerExtensions ?? []).some(
        (r) => r.kind === media.kind && r.uri === ext.uri && (r.direction ?? 'sendrecv') !== 'sendonly' && r.direction !== 'inactive',
      ),
    )
    .map((ext) => ({ uri: ext.uri, id: ext.id, encrypt: false, parameters: {} }));
  const hasExt = (uri: string): boolean => headerExtensions.some((e) => e.uri === uri);

  const encodings = encodingsOf(media, offered, withRtx, hasExt(RID_URI));
  if (encodings.length === 1 && encodings[0]?.ssrc === undefined && encodings[0]?.rid === undefined && !hasExt(MID_URI)) {
    // mediasoup's RtpListener finds a producer by SSRC, MID or RID header extension; without
    // any of them every packet would be dropped ("no suitable Producer").
    throw new SdpError(
      'bad_sdp',
      `m-section "${media.mid}" signals no a=ssrc, no simulcast RIDs and no ${MID_URI} extension: its RTP could not be routed`,
    );
  }

  const cname = media.ssrcs.find((s) => s.cname)?.cname;
  return {
    mid: media.mid,
    codecs,
    headerExtensions,
    encodings,
    rtcp: { ...(cname ? { cname } : {}), reducedSize: media.rtcpReducedSize, mux: true },
  };
}

function encodingsOf(media: MediaOffer, codec: OfferedCodec, withRtx: boolean, ridExtension: boolean): ms.RtpEncodingParameters[] {
  // Simulcast needs the RID extension: packets are told apart by it (the SSRCs are unsignalled).
  if (media.rids.length > 0 && ridExtension) {
    const layers = lowestFirst(media.rids).map((r): ms.RtpEncodingParameters => ({ rid: r.id }));
    return withTemporalLayers(layers, codec);
  }
  const sim = media.ssrcGroups.some((g) => g.semantics === 'SIM');
  const streams = sim ? media.ssrcs : media.ssrcs.slice(0, 1);
  if (streams.length > 0) {
    const layers = streams.map((s): ms.RtpEncodingParameters =>
      withRtx && s.rtxSsrc !== undefined ? { ssrc: s.ssrc, rtx: { ssrc: s.rtxSsrc } } : { ssrc: s.ssrc },
    );
    return layers.length > 1 ? withTemporalLayers(layers, codec) : layers;
  }
  return [{}];
}

/**
 * mediasoup takes encoding i as spatial layer i, lowest resolution first. The SDP does not
 * say which layer is which unless a=rid carries max-width/max-height; sort by those when all
 * layers have them, else keep the offer's order (publishers must list low → high).
 */
function lowestFirst(rids: OfferedRid[]): OfferedRid[] {
  const size = (r: OfferedRid): number | undefined => {
    const w = Number(r.params['max-width'] ?? NaN);
    const h = Number(r.params['max-height'] ?? NaN);
    const v = Number.isFinite(w) ? w : h;
    return Number.isFinite(v) ? v : undefined;
  };
  if (!rids.every((r) => size(r) !== undefined)) return rids;
  return [...rids].sort((a, b) => (size(a) as number) - (size(b) as number));
}

/**
 * libwebrtc sends VP8 and H.264 simulcast layers with three temporal layers; mediasoup-client
 * declares that as scalabilityMode L1T3 (Chrome74/Chrome111 handlers). Without it mediasoup
 * assumes one temporal layer per stream, targets temporal layer 0, and its VP8 handler
 * (worker/src/RTC/Codecs/VP8.cpp) drops the packets of higher temporal layers.
 */
function withTemporalLayers(layers: ms.RtpEncodingParameters[], codec: OfferedCodec): ms.RtpEncodingParameters[] {
  const name = codec.mimeType.toLowerCase();
  if (name !== 'video/vp8' && name !== 'video/h264') return layers;
  return layers.map((l) => ({ ...l, scalabilityMode: 'L1T3' }));
}

function fbKey(fb: ms.RtcpFeedback): string {
  return fb.parameter ? `${fb.type} ${fb.parameter}` : fb.type;
}

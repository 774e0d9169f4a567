// The SDP answer of a WHIP/WHEP session: mediasoup's WebRtcTransport (ICE-lite, DTLS
// server, rtcp-mux, everything BUNDLEd) described in the offer's own terms — its mids, its
// m-section order, its payload types and extension ids. An answer that renumbers anything
// the offer numbered is either rejected by the browser or plays nothing, so every number
// written here is checked against the offer.
import type { types as ms } from 'mediasoup';
import { isRtx, kindOf, paramsOf, sameCodec, type MediaKind } from './codecs.js';
import type { MediaOffer, OfferedSection, SessionOffer } from './offer.js';

/** What the answer needs from transport.iceParameters / iceCandidates / dtlsParameters. */
export interface LocalTransport {
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

/** How the SFU answers one offered m-section (by mid); m-sections with no entry are rejected. */
export type AnswerSection =
  /** WHIP: a producer receives this section; rtpParameters from publishRtpParameters(). */
  | { type: 'recv'; mid: string; rtpParameters: ms.RtpParameters }
  /** WHEP: a consumer sends on this section; rtpParameters = consumer.rtpParameters. */
  | { type: 'send'; mid: string; rtpParameters: ms.RtpParameters; streamId: string; trackId?: string }
  /** WHEP: nothing to send yet; a consumer attached later uses these capabilities' codecs. */
  | { type: 'send-idle'; mid: string; kind: MediaKind; rtpCapabilities: ms.RtpCapabilities; streamId?: string }
  | { type: 'rejected'; mid: string };

/**
 * DTLS parameters for transport.connect(): the browser's fingerprints, and role `client`
 * because the answer says a=setup:passive — mediasoup is the DTLS server (notes: that also
 * negotiates the GCM SRTP profile with Chromium).
 */
export function remoteDtlsParameters(offer: SessionOffer): ms.DtlsParameters {
  return { role: 'client', fingerprints: offer.fingerprints.map((f) => ({ ...f })) };
}

interface CodecLine {
  payloadType: number;
  mimeType: string;
  clockRate: number;
  channels?: number;
  parameters?: unknown;
  rtcpFeedback?: ms.RtcpFeedback[];
}

const DEFAULT_STREAM_ID = 'live';

/**
 * Builds the answer: ICE-lite, one BUNDLE group of the accepted mids, a=setup:passive, the
 * transport's candidates and a=end-of-candidates in every accepted m-section, and one
 * m-section per offered one in the same order (rejected ones: port 0, a=inactive).
 * Throws TypeError when `sections` do not fit the offer (unknown mid, payload types the offer
 * does not have) — that is a bug in the caller, not in the client's offer.
 */
export function buildAnswer(offer: SessionOffer, local: LocalTransport, sections: readonly AnswerSection[]): string {
  const byMid = new Map<string, AnswerSection>();
  for (const s of sections) {
    if (byMid.has(s.mid)) throw new TypeError(`two answer sections for mid "${s.mid}"`);
    if (!offer.sections.some((o) => o.mid === s.mid))
      throw new TypeError(`answer section for mid "${s.mid}", which the offer does not have`);
    byMid.set(s.mid, s);
  }
  const transport = transportLines(offer, local);
  const defaultStream =
    sections.find((s): s is Extract<AnswerSection, { type: 'send' }> => s.type === 'send')?.streamId ?? DEFAULT_STREAM_ID;

  const accepted: string[] = [];
  const blocks = offer.sections.map((section) => {
    const media = offer.media.find((m) => m.mid === section.mid);
    const answer = byMid.get(section.mid);
    const body = media && answer && answer.type !== 'rejected' && media.port !== 0 ? acceptedBody(media, answer, defaultStream) : undefined;
    if (!media || !body) return rejected(section);
    accepted.push(section.mid);
    return [
      `m=${media.kind} ${transport.port} ${media.protocol} ${body.payloadTypes.join(' ')}`,
      transport.connection,
      `a=mid:${media.mid}`,
      ...transport.attributes,
      `a=${body.direction}`,
      'a=rtcp-mux',
      // RFC 5506 §5: reduced-size RTCP may only be answered when offered.
      ...(media.rtcpReducedSize ? ['a=rtcp-rsize'] : []),
      ...body.lines,
    ];
  });

  const bundle = offer.bundle.filter((mid) => accepted.includes(mid));
  const session = [
    'v=0',
    `o=- ${sessionIdOf(local.iceParameters.usernameFragment)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=ice-lite',
    // Only what the offer grouped, in its order (the first accepted mid is our tagged
    // m-section, RFC 8843 §7.3.1); a single unbundled section stays unbundled.
    ...(bundle.length > 0 ? [`a=group:BUNDLE ${bundle.join(' ')}`] : []),
    'a=msid-semantic: WMS *',
    // No a=extmap-allow-mixed although Chromium offers it: not answering it keeps the
    // publisher on one-byte extension headers (RFC 8285), the form mediasoup writes itself.
  ];
  return [...session, ...blocks.flat()].join('\r\n') + '\r\n';
}

function rejected(section: OfferedSection): string[] {
  return [
    `m=${section.media} 0 ${section.protocol} ${section.formats[0] ?? '0'}`,
    'c=IN IP4 0.0.0.0',
    `a=mid:${section.mid}`,
    'a=inactive',
  ];
}

interface TransportLines {
  port: number;
  connection: string;
  attributes: string[];
}

function transportLines(offer: SessionOffer, local: LocalTransport): TransportLines {
  const { iceParameters, iceCandidates, dtlsParameters } = local;
  const fingerprint = chooseFingerprint(dtlsParameters.fingerprints, offer.fingerprints);
  // RFC 8839 §4.2.1: the m/c lines carry the default candidate (UDP, IPv4 preferred).
  const def =
    iceCandidates.find((c) => c.protocol === 'udp' && !c.ip.includes(':')) ??
    iceCandidates.find((c) => c.protocol === 'udp') ??
    iceCandidates[0];
  const candidates = iceCandidates.map((c) => {
    const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
    return `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${tcp}`;
  });
  return {
    port: def?.port ?? 9,
    connection: def ? `c=IN ${def.ip.includes(':') ? 'IP6' : 'IP4'} ${def.ip}` : 'c=IN IP4 0.0.0.0',
    attributes: [
      `a=ice-ufrag:${iceParameters.usernameFragment}`,
      `a=ice-pwd:${iceParameters.password}`,
      `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
      'a=setup:passive',
      ...candidates,
      'a=end-of-candidates',
    ],
  };
}

/**
 * mediasoup lists one fingerprint per hash (sha-1 … sha-512). Browsers verify one; give the
 * hash the offerer itself used, else sha-256, else mediasoup's last (strongest).
 */
function chooseFingerprint(local: ms.DtlsFingerprint[], remote: ms.DtlsFingerprint[]): ms.DtlsFingerprint {
  const pick =
    remote.map((r) => local.find((l) => l.algorithm.toLowerCase() === r.algorithm)).find((f) => f !== undefined) ??
    local.find((l) => l.algorithm.toLowerCase() === 'sha-256') ??
    local[local.length - 1];
  if (!pick) throw new TypeError('the local transport has no DTLS fingerprint');
  return pick;
}

interface Body {
  direction: 'recvonly' | 'sendonly';
  payloadTypes: number[];
  lines: string[];
}

function acceptedBody(media: MediaOffer, answer: Exclude<AnswerSection, { type: 'rejected' }>, defaultStream: string): Body | undefined {
  switch (answer.type) {
    case 'recv':
      return recvBody(media, answer.rtpParameters);
    case 'send':
      return sendBody(media, answer.rtpParameters, answer.streamId, answer.trackId ?? `${media.kind}-${media.mid}`);
    case 'send-idle':
      return idleBody(media, answer.rtpCapabilities, answer.streamId ?? defaultStream);
  }
}

/** WHIP: receive exactly what produce() was told — the offer's payload types and ids. */
function recvBody(media: MediaOffer, params: ms.RtpParameters): Body {
  if (media.direction !== 'sendonly' && media.direction !== 'sendrecv') {
    throw new TypeError(`m-section "${media.mid}" is ${media.direction}: it cannot be answered recvonly`);
  }
  const offeredPts = new Set(
    media.codecs.flatMap((c) => (c.rtxPayloadType === undefined ? [c.payloadType] : [c.payloadType, c.rtxPayloadType])),
  );
  for (const c of params.codecs) {
    if (!offeredPts.has(c.payloadType)) throw new TypeError(`payload type ${c.payloadType} is not offered in m-section "${media.mid}"`);
  }
  const extensions = (params.headerExtensions ?? []).filter((e) => media.headerExtensions.some((o) => o.id === e.id && o.uri === e.uri));
  const rids = (params.encodings ?? []).map((e) => e.rid).filter((r): r is string => r !== undefined);
  // Keep the offer's order of layers (publish.ts may have sorted them for mediasoup).
  const orderedRids = media.rids.map((r) => r.id).filter((id) => rids.includes(id));
  return {
    direction: 'recvonly',
    payloadTypes: params.codecs.map((c) => c.payloadType),
    lines: [
      ...params.codecs.flatMap(codecLines),
      ...extensions.map((e) => `a=extmap:${e.id} ${e.uri}`),
      ...orderedRids.map((rid) => `a=rid:${rid} recv`),
      ...(orderedRids.length > 0 ? [`a=simulcast:recv ${orderedRids.join(';')}`] : []),
    ],
  };
}

/** WHEP: describe the consumer — its codecs must already carry the offer's payload types. */
function sendBody(media: MediaOffer, params: ms.RtpParameters, streamId: string, trackId: string): Body {
  if (media.direction !== 'recvonly' && media.direction !== 'sendrecv') {
    throw new TypeError(`m-section "${media.mid}" is ${media.direction}: it cannot be answered sendonly`);
  }
  const codecs: CodecLine[] = [];
  for (const c of params.codecs) {
    if (isRtx(c)) continue;
    const offered = media.codecs.find((o) => o.payloadType === c.payloadType);
    if (!offered || !sameCodec(offered, c)) {
      throw new TypeError(
        `consumer sends ${c.mimeType} with payload type ${c.payloadType}, which m-section "${media.mid}" does not offer for it: ` +
          "consume from the router of this viewer's profile (viewerProfile) with viewerRtpCapabilities",
      );
    }
    codecs.push(c);
  }
  // RTX the offer numbers differently would be decoded as another codec: leave it unsignalled.
  const rtxCodecs = params.codecs.filter(
    (c) => isRtx(c) && media.codecs.some((o) => o.payloadType === paramsOf(c)['apt'] && o.rtxPayloadType === c.payloadType),
  );
  const encoding = params.encodings?.[0];
  const ssrc = encoding?.ssrc;
  const rtxSsrc = rtxCodecs.length > 0 ? encoding?.rtx?.ssrc : undefined;
  const cname = params.rtcp?.cname ?? streamId;
  const msid = `${streamId} ${trackId}`;
  const ssrcLines = (s: number): string[] => [`a=ssrc:${s} cname:${cname}`, `a=ssrc:${s} msid:${msid}`];
  return {
    direction: 'sendonly',
    payloadTypes: [...codecs, ...rtxCodecs].map((c) => c.payloadType),
    lines: [
      ...[...codecs, ...rtxCodecs].flatMap(codecLines),
      ...offeredExtensions(media, params.headerExtensions ?? []).map((e) => `a=extmap:${e.id} ${e.uri}`),
      `a=msid:${msid}`,
      ...(ssrc !== undefined && rtxSsrc !== undefined ? [`a=ssrc-group:FID ${ssrc} ${rtxSsrc}`] : []),
      ...(ssrc !== undefined ? ssrcLines(ssrc) : []),
      ...(rtxSsrc !== undefined ? ssrcLines(rtxSsrc) : []),
    ],
  };
}

/** WHEP section with no producer yet: offer-numbered codecs from the viewer's capabilities. */
function idleBody(media: MediaOffer, caps: ms.RtpCapabilities, streamId: string): Body | undefined {
  if (media.direction !== 'recvonly' && media.direction !== 'sendrecv') return undefined;
  const ofKind = (caps.codecs ?? []).filter((c) => kindOf(c.mimeType) === media.kind && typeof c.preferredPayloadType === 'number');
  const codecs: CodecLine[] = [];
  for (const c of ofKind) {
    const pt = c.preferredPayloadType as number;
    const line: CodecLine = { ...c, payloadType: pt };
    if (isRtx(c)) {
      if (media.codecs.some((o) => o.payloadType === paramsOf(c)['apt'] && o.rtxPayloadType === pt)) codecs.push(line);
    } else if (media.codecs.some((o) => o.payloadType === pt && sameCodec(o, c))) {
      codecs.push(line);
    }
  }
  // RTX whose media codec was dropped is meaningless.
  const kept = codecs.filter((c) => !isRtx(c) || codecs.some((m) => m.payloadType === paramsOf(c)['apt']));
  if (!kept.some((c) => !isRtx(c))) return undefined;
  const exts = (caps.headerExtensions ?? []).filter((e) => e.kind === media.kind).map((e) => ({ uri: e.uri, id: e.preferredId }));
  return {
    direction: 'sendonly',
    payloadTypes: kept.map((c) => c.payloadType),
    lines: [
      ...kept.flatMap(codecLines),
      ...offeredExtensions(media, exts).map((e) => `a=extmap:${e.id} ${e.uri}`),
      `a=msid:${streamId} ${media.kind}-${media.mid}`,
    ],
  };
}

/** Extensions whose id and URI are both the offer's (anything else Chrome rejects). */
function offeredExtensions(media: MediaOffer, exts: readonly { uri: string; id: number }[]): { uri: string; id: number }[] {
  return exts.filter((e) =>
    media.headerExtensions.some((o) => o.id === e.id && o.uri === e.uri && o.direction !== 'sendonly' && o.direction !== 'inactive'),
  );
}

function codecLines(c: CodecLine): string[] {
  const name = c.mimeType.split('/')[1] ?? c.mimeType;
  const channels = kindOf(c.mimeType) === 'audio' && (c.channels ?? 1) > 1 ? `/${String(c.channels)}` : '';
  const lines = [`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${channels}`];
  for (const fb of c.rtcpFeedback ?? []) lines.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
  const params = Object.entries(paramsOf(c))
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
    .map(([k, v]) => (v === '' ? k : `${k}=${String(v)}`));
  if (params.length > 0) lines.push(`a=fmtp:${c.payloadType} ${params.join(';')}`);
  return lines;
}

/** A stable numeric o= session id per transport (FNV-1a of the local ufrag). */
function sessionIdOf(ufrag: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ufrag.length; i++) {
    h ^= ufrag.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return String(h + 1);
}

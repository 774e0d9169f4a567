// WHIP/WHEP offers: parse, validate, and describe them in the terms the SFU needs (ICE and
// DTLS of the one bundled transport; per m-section its mid, codecs, header extensions,
// SSRCs and simulcast RIDs). Everything a client gets wrong here is an SdpError('bad_sdp')
// whose message names the m-section, so a 400 tells the publisher what to fix.
import type { types as ms } from 'mediasoup';
import { SdpError } from './errors.js';
import { attr, attrs, hasAttr, tokenize, type SdpAttribute, type SdpMediaBlock } from './lines.js';
import type { CodecParameters, MediaKind } from './codecs.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The offerer's DTLS setup; `passive` offers are refused (mediasoup must be the DTLS server). */
export type OfferSetup = 'actpass' | 'active';

export interface OfferedCodec {
  payloadType: number;
  /** `<kind>/<encoding name as written>`, e.g. `video/VP8`, `audio/opus`. */
  mimeType: string;
  clockRate: number;
  /** Audio only: the rtpmap's channel count, 1 when absent. */
  channels?: number;
  /** fmtp; all-digit values are numbers except profile-level-id (see codecs.ts). */
  parameters: CodecParameters;
  rtcpFeedback: ms.RtcpFeedback[];
  /** Payload type of the RTX codec whose `apt` names this codec, if the offer has one. */
  rtxPayloadType?: number;
}

export interface OfferedHeaderExtension {
  id: number;
  uri: string;
  /** From the offerer's point of view; `sendrecv` when the extmap has no direction. */
  direction: Direction;
}

/** One RTP stream signalled with a=ssrc lines; RTX paired through `a=ssrc-group:FID`. */
export interface OfferedSsrc {
  ssrc: number;
  rtxSsrc?: number;
  cname?: string;
  /** `a=ssrc:<ssrc> msid:` value, "<stream id> <track id>". */
  msid?: string;
}

export interface OfferedRid {
  id: string;
  /** `~` in a=simulcast: the offerer starts with this layer paused. */
  paused: boolean;
  /** a=rid restrictions such as max-width. */
  params: Record<string, string>;
}

/** Every m-section, audio/video or not, in offer order: the answer mirrors this list. */
export interface OfferedSection {
  index: number;
  mid: string;
  /** The m-line's media type: audio, video, application, … */
  media: string;
  protocol: string;
  port: number;
  formats: string[];
}

export interface MediaOffer {
  /** Position among all m-sections. */
  index: number;
  mid: string;
  kind: MediaKind;
  protocol: string;
  /** The m-line port; a bundle-only section (RFC 8843 §6) is active although its port is 0, so it reads 9. */
  port: number;
  bundleOnly: boolean;
  direction: Direction;
  /** Codecs in the offerer's preference order; RTX codecs are folded into `rtxPayloadType`. */
  codecs: OfferedCodec[];
  headerExtensions: OfferedHeaderExtension[];
  /** Primary SSRCs (not the RTX ones), in a=ssrc-group:SIM order when there is one. */
  ssrcs: OfferedSsrc[];
  ssrcGroups: { semantics: string; ssrcs: number[] }[];
  /** From `a=msid`, else from the first SSRC's msid. */
  msid?: { streamId: string; trackId?: string };
  /** RIDs the offerer sends (a=simulcast send list, else a=rid … send lines), in order. */
  rids: OfferedRid[];
  rtcpMux: boolean;
  rtcpReducedSize: boolean;
}

export interface SessionOffer {
  iceUfrag: string;
  icePwd: string;
  iceOptions: string[];
  /** Supported-hash fingerprints of the offerer's certificate (algorithm lower-cased). */
  fingerprints: ms.DtlsFingerprint[];
  setup: OfferSetup;
  /** Mids of the BUNDLE group, tagged m-section first; empty for a single unbundled section. */
  bundle: string[];
  extmapAllowMixed: boolean;
  /** The audio/video m-sections. */
  media: MediaOffer[];
  /** All m-sections, including ones this SFU always rejects (data channels, …). */
  sections: OfferedSection[];
}

/** Hashes mediasoup 3.8.4's DtlsTransport accepts, with their digest sizes in bytes. */
const FINGERPRINT_BYTES: Readonly<Record<string, number>> = {
  'sha-1': 20,
  'sha-224': 28,
  'sha-256': 32,
  'sha-384': 48,
  'sha-512': 64,
};

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;
const MID = /^[\x21-\x7e]{1,64}$/;
const ENCRYPT_URI = 'urn:ietf:params:rtp-hdrext:encrypt';

const bad = (message: string): SdpError => new SdpError('bad_sdp', message);

/** Parses and validates a WHIP/WHEP offer. Throws SdpError('bad_sdp') with a readable message. */
export function parseOffer(sdp: string): SessionOffer {
  const doc = tokenize(sdp);
  if (doc.media.length === 0) throw bad('the offer has no m-sections (no audio or video to negotiate)');
  const session = doc.attributes;

  const sections = doc.media.map((block) => describeSection(block));
  const mids = new Set<string>();
  for (const s of sections) {
    if (mids.has(s.mid)) throw bad(`two m-sections use mid "${s.mid}"`);
    mids.add(s.mid);
  }

  const bundle = parseBundle(session, mids);
  const active = doc.media.filter((b) => b.port !== 0 || hasAttr(b.attributes, 'bundle-only'));
  if (active.length === 0) throw bad('every m-section of the offer is rejected (port 0)');
  const activeMids = active.map((b) => sections[b.index]?.mid ?? '');
  if (active.length > 1) {
    const unbundled = activeMids.filter((m) => !bundle.includes(m));
    if (unbundled.length > 0) {
      throw bad(
        `m-sections ${unbundled.map((m) => `"${m}"`).join(', ')} are not in the BUNDLE group: ` +
          'this server offers one ICE/DTLS transport per session, so every m-section must be bundled (a=group:BUNDLE)',
      );
    }
  }
  // RFC 8843 §7.2.1: the first mid of the group names the tagged m-section, whose transport is shared.
  const taggedMid = bundle.find((m) => activeMids.includes(m)) ?? activeMids[0];
  const tagged = active.find((b) => sections[b.index]?.mid === taggedMid) ?? (active[0] as SdpMediaBlock);

  if (hasAttr(session, 'ice-lite')) throw bad('the offer is ICE-lite, and so is this server: one side must run full ICE');
  const ice = iceOf(tagged, session, taggedMid ?? '');
  const fingerprints = fingerprintsOf(tagged, session, taggedMid ?? '');
  const setup = setupOf(tagged, session, taggedMid ?? '');
  for (const b of active) {
    if (b === tagged) continue;
    const mid = sections[b.index]?.mid ?? '';
    const ufrag = attr(b.attributes, 'ice-ufrag') ?? attr(session, 'ice-ufrag');
    const pwd = attr(b.attributes, 'ice-pwd') ?? attr(session, 'ice-pwd');
    if ((ufrag !== undefined && ufrag !== ice.ufrag) || (pwd !== undefined && pwd !== ice.pwd)) {
      throw bad(`m-section "${mid}" has other ICE credentials than "${taggedMid}" although both are bundled`);
    }
    const own = attrs(b.attributes, 'fingerprint');
    if (own.length > 0 && !sameFingerprints(parseFingerprints(own, mid), fingerprints)) {
      throw bad(`m-section "${mid}" has another DTLS fingerprint than "${taggedMid}" although both are bundled`);
    }
  }

  const media: MediaOffer[] = [];
  for (const block of doc.media) {
    const section = sections[block.index] as OfferedSection;
    if (block.media !== 'audio' && block.media !== 'video') continue;
    media.push(parseMediaSection(block, section, session));
  }

  return {
    iceUfrag: ice.ufrag,
    icePwd: ice.pwd,
    // RFC 8839 separates options with spaces; libdatachannel (OBS) writes "ice2,trickle".
    iceOptions: (attr(tagged.attributes, 'ice-options') ?? attr(session, 'ice-options') ?? '').split(/[\s,]+/).filter(Boolean),
    fingerprints,
    setup,
    bundle,
    extmapAllowMixed: hasAttr(session, 'extmap-allow-mixed') || doc.media.some((b) => hasAttr(b.attributes, 'extmap-allow-mixed')),
    media,
    sections,
  };
}

function describeSection(block: SdpMediaBlock): OfferedSection {
  const mid = attr(block.attributes, 'mid');
  if (mid === undefined || mid === '') {
    throw bad(
      `m-section ${block.index + 1} (${block.media}) has no a=mid: WHIP/WHEP offers must use BUNDLE, which needs a mid on every m-section`,
    );
  }
  if (!MID.test(mid)) throw bad(`m-section ${block.index + 1} has an invalid mid ${JSON.stringify(mid.slice(0, 70))}`);
  return { index: block.index, mid, media: block.media, protocol: block.protocol, port: block.port, formats: block.formats };
}

function parseBundle(session: SdpAttribute[], mids: Set<string>): string[] {
  const groups = attrs(session, 'group')
    .map((g) => g.trim().split(/\s+/))
    .filter((g) => g[0] === 'BUNDLE');
  if (groups.length > 1) throw bad('the offer has more than one BUNDLE group: this server offers one transport per session');
  const group = groups[0]?.slice(1) ?? [];
  for (const mid of group) {
    if (!mids.has(mid)) throw bad(`a=group:BUNDLE names mid "${mid}", which no m-section has`);
  }
  return group;
}

function iceOf(block: SdpMediaBlock, session: SdpAttribute[], mid: string): { ufrag: string; pwd: string } {
  const ufrag = attr(block.attributes, 'ice-ufrag') ?? attr(session, 'ice-ufrag');
  const pwd = attr(block.attributes, 'ice-pwd') ?? attr(session, 'ice-pwd');
  if (!ufrag || !pwd) throw bad(`the offer has no ICE credentials (a=ice-ufrag / a=ice-pwd) for m-section "${mid}"`);
  if (!ICE_CHARS.test(ufrag) || !ICE_CHARS.test(pwd))
    throw bad('a=ice-ufrag / a=ice-pwd contain characters ICE does not allow (RFC 8839 ice-char)');
  return { ufrag, pwd };
}

function fingerprintsOf(block: SdpMediaBlock, session: SdpAttribute[], mid: string): ms.DtlsFingerprint[] {
  const own = attrs(block.attributes, 'fingerprint');
  const lines = own.length > 0 ? own : attrs(session, 'fingerprint');
  if (lines.length === 0) throw bad(`the offer has no DTLS fingerprint (a=fingerprint) for m-section "${mid}"`);
  const fingerprints = parseFingerprints(lines, mid);
  if (fingerprints.length === 0) {
    throw bad(`no a=fingerprint of m-section "${mid}" uses a hash this server supports (${Object.keys(FINGERPRINT_BYTES).join(', ')})`);
  }
  return fingerprints;
}

function parseFingerprints(lines: string[], mid: string): ms.DtlsFingerprint[] {
  const out: ms.DtlsFingerprint[] = [];
  for (const line of lines) {
    const m = /^(\S+) ((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$/.exec(line.trim());
    if (!m) throw bad(`malformed a=fingerprint in m-section "${mid}": ${JSON.stringify(line.slice(0, 40))}`);
    const algorithm = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    const bytes = FINGERPRINT_BYTES[algorithm];
    if (bytes === undefined) continue;
    if (value.split(':').length !== bytes) throw bad(`a=fingerprint ${algorithm} of m-section "${mid}" has the wrong length`);
    out.push({ algorithm, value: value.toUpperCase() });
  }
  return out;
}

function sameFingerprints(a: ms.DtlsFingerprint[], b: ms.DtlsFingerprint[]): boolean {
  const key = (f: ms.DtlsFingerprint): string => `${f.algorithm} ${f.value}`;
  const sa = new Set(a.map(key));
  return a.length === b.length && b.every((f) => sa.has(key(f)));
}

function setupOf(block: SdpMediaBlock, session: SdpAttribute[], mid: string): OfferSetup {
  const setup = attr(block.attributes, 'setup') ?? attr(session, 'setup') ?? 'actpass';
  if (setup === 'actpass' || setup === 'active') return setup;
  if (setup === 'passive') {
    throw bad(`m-section "${mid}" offers a=setup:passive; this server is always the DTLS server, so offers must be actpass or active`);
  }
  throw bad(`m-section "${mid}" has an invalid a=setup:${setup}`);
}

function directionOf(list: SdpAttribute[]): Direction | undefined {
  let found: Direction | undefined;
  for (const a of list) if ((DIRECTIONS as readonly string[]).includes(a.name) && a.value === undefined) found = a.name as Direction;
  return found;
}

function parseMediaSection(block: SdpMediaBlock, section: OfferedSection, session: SdpAttribute[]): MediaOffer {
  const { mid } = section;
  const kind = block.media as MediaKind;
  const active = block.port !== 0 || hasAttr(block.attributes, 'bundle-only');
  if (active && !/SAVPF?$/.test(block.protocol)) {
    throw bad(`m-section "${mid}" uses ${block.protocol}; WebRTC media must be DTLS-SRTP (UDP/TLS/RTP/SAVPF)`);
  }
  const a = block.attributes;
  const payloadTypes = block.formats.map((f) => {
    if (!/^\d{1,3}$/.test(f) || Number(f) > 127) throw bad(`m-section "${mid}" lists an invalid payload type "${f}"`);
    return Number(f);
  });

  return {
    index: block.index,
    mid,
    kind,
    protocol: block.protocol,
    port: block.port === 0 && active ? 9 : block.port,
    bundleOnly: hasAttr(a, 'bundle-only'),
    direction: directionOf(a) ?? directionOf(session) ?? 'sendrecv',
    codecs: parseCodecs(a, kind, payloadTypes, mid),
    headerExtensions: parseExtensions(a, mid),
    ...parseSsrcs(a, mid),
    msid: parseMsid(a),
    rids: parseRids(a, mid),
    rtcpMux: hasAttr(a, 'rtcp-mux'),
    rtcpReducedSize: hasAttr(a, 'rtcp-rsize'),
  };
}

function parseCodecs(a: SdpAttribute[], kind: MediaKind, payloadTypes: number[], mid: string): OfferedCodec[] {
  const listed = new Set(payloadTypes);
  const byPt = new Map<number, OfferedCodec>();
  for (const v of attrs(a, 'rtpmap')) {
    const m = /^(\d{1,3}) ([^\s/]+)\/(\d+)(?:\/(\d+))?$/.exec(v.trim());
    if (!m) throw bad(`malformed a=rtpmap in m-section "${mid}": ${JSON.stringify(v.slice(0, 40))}`);
    const pt = Number(m[1]);
    if (!listed.has(pt)) continue; // rtpmap for a payload type the m-line does not offer
    if (byPt.has(pt)) throw bad(`m-section "${mid}" maps payload type ${pt} twice`);
    const clockRate = Number(m[3]);
    if (clockRate <= 0) throw bad(`a=rtpmap:${pt} in m-section "${mid}" has no clock rate`);
    const codec: OfferedCodec = { payloadType: pt, mimeType: `${kind}/${m[2] as string}`, clockRate, parameters: {}, rtcpFeedback: [] };
    if (kind === 'audio') codec.channels = m[4] ? Number(m[4]) : 1;
    byPt.set(pt, codec);
  }
  for (const v of attrs(a, 'fmtp')) {
    const m = /^(\d{1,3}) (.*)$/.exec(v.trim());
    if (!m) continue;
    const codec = byPt.get(Number(m[1]));
    if (codec) codec.parameters = parseFmtp(m[2] as string);
  }
  for (const v of attrs(a, 'rtcp-fb')) {
    const m = /^(\d{1,3}|\*) (\S+)(?: (\S+))?/.exec(v.trim());
    if (!m) continue;
    const fb: ms.RtcpFeedback = m[3] ? { type: m[2] as string, parameter: m[3] } : { type: m[2] as string };
    const targets = m[1] === '*' ? [...byPt.values()] : [byPt.get(Number(m[1]))];
    for (const codec of targets) {
      if (!codec || /\/rtx$/i.test(codec.mimeType)) continue;
      if (!codec.rtcpFeedback.some((f) => f.type === fb.type && (f.parameter ?? '') === (fb.parameter ?? ''))) codec.rtcpFeedback.push(fb);
    }
  }
  // Fold RTX into its media codec: the SFU treats "VP8 96 with RTX 97" as one choice.
  const codecs: OfferedCodec[] = [];
  for (const pt of payloadTypes) {
    const codec = byPt.get(pt);
    if (!codec) continue; // static payload type without rtpmap: nothing the SFU supports
    if (/\/rtx$/i.test(codec.mimeType)) {
      const target = byPt.get(Number(codec.parameters['apt']));
      if (target && !/\/rtx$/i.test(target.mimeType) && target.rtxPayloadType === undefined) target.rtxPayloadType = pt;
      continue;
    }
    codecs.push(codec);
  }
  return codecs;
}

/** `k=v;k2=v2` → typed parameters (see CodecParameters); valueless tokens such as `111/111` map to ''. */
export function parseFmtp(config: string): CodecParameters {
  const out: CodecParameters = {};
  for (const part of config.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq).trim();
    const value = eq < 0 ? '' : p.slice(eq + 1).trim();
    // profile-level-id is hex: "640032" must stay a string or h264 matching fails.
    out[key] = /^\d{1,15}$/.test(value) && key !== 'profile-level-id' ? Number(value) : value;
  }
  return out;
}

function parseExtensions(a: SdpAttribute[], mid: string): OfferedHeaderExtension[] {
  const out: OfferedHeaderExtension[] = [];
  for (const v of attrs(a, 'extmap')) {
    const m = /^(\d+)(?:\/(\w+))? (\S+)(?: (\S+))?/.exec(v.trim());
    if (!m) throw bad(`malformed a=extmap in m-section "${mid}": ${JSON.stringify(v.slice(0, 60))}`);
    const id = Number(m[1]);
    if (id < 1 || id > 255 || id === 15) throw bad(`a=extmap id ${id} in m-section "${mid}" is outside 1-14 / 16-255`);
    // RFC 6904 encrypted extensions: mediasoup 3.8.4 cannot decrypt them, so they are never accepted.
    if (m[3] === ENCRYPT_URI) continue;
    const direction = (m[2] ?? 'sendrecv') as Direction;
    if (!DIRECTIONS.includes(direction)) throw bad(`a=extmap:${id} in m-section "${mid}" has an invalid direction "${m[2] ?? ''}"`);
    const uri = m[3] as string;
    const clash = out.find((e) => e.id === id);
    if (clash && clash.uri !== uri) throw bad(`m-section "${mid}" uses extmap id ${id} for two URIs`);
    if (!clash) out.push({ id, uri, direction });
  }
  return out;
}

function parseSsrcs(a: SdpAttribute[], mid: string): Pick<MediaOffer, 'ssrcs' | 'ssrcGroups'> {
  const info = new Map<number, OfferedSsrc>();
  const order: number[] = [];
  for (const v of attrs(a, 'ssrc')) {
    const m = /^(\d+)(?: ([\w-]+)(?::(.*))?)?$/.exec(v.trim());
    if (!m) throw bad(`malformed a=ssrc in m-section "${mid}": ${JSON.stringify(v.slice(0, 40))}`);
    const ssrc = Number(m[1]);
    if (ssrc > 0xffffffff) throw bad(`a=ssrc ${m[1] as string} in m-section "${mid}" is not a 32-bit SSRC`);
    let entry = info.get(ssrc);
    if (!entry) {
      entry = { ssrc };
      info.set(ssrc, entry);
      order.push(ssrc);
    }
    if (m[2] === 'cname' && m[3]) entry.cname = m[3].trim();
    if (m[2] === 'msid' && m[3]) entry.msid = m[3].trim();
  }
  const ssrcGroups: MediaOffer['ssrcGroups'] = [];
  for (const v of attrs(a, 'ssrc-group')) {
    const m = /^(\S+)((?: \d+)+)$/.exec(v.trim());
    if (!m) throw bad(`malformed a=ssrc-group in m-section "${mid}": ${JSON.stringify(v.slice(0, 60))}`);
    ssrcGroups.push({ semantics: m[1] as string, ssrcs: (m[2] as string).trim().split(' ').map(Number) });
  }
  const rtxOf = new Map<number, number>();
  for (const g of ssrcGroups) {
    if (g.semantics !== 'FID' || g.ssrcs.length !== 2) continue;
    const [media, rtx] = g.ssrcs as [number, number];
    rtxOf.set(media, rtx);
  }
  const rtxSet = new Set(rtxOf.values());
  const sim = ssrcGroups.find((g) => g.semantics === 'SIM');
  const primaries = sim ? sim.ssrcs : order.filter((s) => !rtxSet.has(s));
  const ssrcs = primaries.map((ssrc): OfferedSsrc => {
    const base = info.get(ssrc) ?? { ssrc };
    const rtxSsrc = rtxOf.get(ssrc);
    return rtxSsrc === undefined ? { ...base } : { ...base, rtxSsrc };
  });
  return { ssrcs, ssrcGroups };
}

function parseMsid(a: SdpAttribute[]): MediaOffer['msid'] {
  const line =
    attr(a, 'msid') ??
    attrs(a, 'ssrc')
      .map((v) => /^\d+ msid:(.*)$/.exec(v.trim())?.[1])
      .find((v) => v !== undefined);
  if (!line) return undefined;
  const [streamId, trackId] = line.trim().split(/\s+/);
  if (!streamId) return undefined;
  return trackId ? { streamId, trackId } : { streamId };
}

function parseRids(a: SdpAttribute[], mid: string): OfferedRid[] {
  const params = new Map<string, Record<string, string>>();
  const sendRids: string[] = [];
  for (const v of attrs(a, 'rid')) {
    const m = /^([A-Za-z0-9_-]{1,255}) (send|recv)(?: (.*))?$/.exec(v.trim());
    if (!m) throw bad(`malformed a=rid in m-section "${mid}": ${JSON.stringify(v.slice(0, 40))}`);
    if (m[2] !== 'send') continue;
    const p: Record<string, string> = {};
    for (const kv of (m[3] ?? '').split(';')) {
      const [k, val] = kv.split('=');
      if (k && val !== undefined && !k.startsWith('pt')) p[k.trim()] = val.trim();
    }
    params.set(m[1] as string, p);
    sendRids.push(m[1] as string);
  }
  const simulcast = attr(a, 'simulcast');
  if (simulcast !== undefined) {
    const m = /^(send|recv) (\S+)(?: (send|recv) (\S+))?$/.exec(simulcast.trim());
    if (!m) throw bad(`malformed a=simulcast in m-section "${mid}": ${JSON.stringify(simulcast.slice(0, 60))}`);
    const list = m[1] === 'send' ? m[2] : m[3] === 'send' ? m[4] : undefined;
    if (list === undefined) return [];
    // Each stream may list alternatives ("a,b"); the first is the offerer's choice.
    return list.split(';').map((stream) => {
      const first = stream.split(',')[0] ?? '';
      const paused = first.startsWith('~');
      const id = paused ? first.slice(1) : first;
      if (!id) throw bad(`a=simulcast in m-section "${mid}" has an empty stream`);
      return { id, paused, params: params.get(id) ?? {} };
    });
  }
  return sendRids.map((id) => ({ id, paused: false, params: params.get(id) ?? {} }));
}

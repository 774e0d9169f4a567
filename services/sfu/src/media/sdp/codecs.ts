// Codec identity as mediasoup 3.8.4 sees it. Every decision this layer makes ("does the
// router support this offered codec?", "which router codec will a consumer use?") must agree
// with node_modules/mediasoup/lib/ortc.js matchCodecs(), or produce()/consume() will throw
// or pick another codec. So this mirrors it, strict mode, including its quirks: parameters
// are compared with `||` defaults and `!==` (1 and '1' differ — offer.ts therefore turns
// all-digit fmtp values into numbers, as mediasoup-client does), and channels are compared
// after ortc's validation, which sets audio channels to 1 when absent and drops them for video.
import { isSameH264Profile } from './h264.js';

/** fmtp parameters: all-digit values are numbers (except profile-level-id), others strings. */
export type CodecParameters = Record<string, string | number>;

/** What matching needs from an offered codec, a router capability or RTP parameters. */
export interface CodecLike {
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** mediasoup types this as `any`; read through paramsOf(). */
  parameters?: unknown;
}

export type MediaKind = 'audio' | 'video';

/**
 * The placeholder mediasoup codec viewer.ts uses to steer the router's RTX payload-type
 * allocation (see payloadTypes.ts). No browser offers SILK, and this layer never puts it in
 * capabilities it hands out, so no producer or consumer can end up using it.
 */
export const PLACEHOLDER_MIME_TYPE = 'audio/SILK';
export const PLACEHOLDER_CLOCK_RATE = 24000;

export function paramsOf(codec: { parameters?: unknown }): Readonly<Record<string, unknown>> {
  const p = codec.parameters;
  return typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : {};
}

export function kindOf(mimeType: string): MediaKind | undefined {
  const k = mimeType.split('/')[0]?.toLowerCase();
  return k === 'audio' || k === 'video' ? k : undefined;
}

export function isRtx(codec: { mimeType: string }): boolean {
  return /\/rtx$/i.test(codec.mimeType);
}

export function isPlaceholder(codec: { mimeType: string; clockRate: number }): boolean {
  return codec.mimeType.toLowerCase() === PLACEHOLDER_MIME_TYPE.toLowerCase() && codec.clockRate === PLACEHOLDER_CLOCK_RATE;
}

/** Codecs that carry media of their own (not RTX, RED, ULPFEC, CN, DTMF or our placeholder). */
export function isMediaCodec(codec: { mimeType: string; clockRate: number }): boolean {
  const name = codec.mimeType.split('/')[1]?.toLowerCase() ?? '';
  return !['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event'].includes(name) && !isPlaceholder(codec);
}

function channelsOf(codec: CodecLike): number | undefined {
  return kindOf(codec.mimeType) === 'audio' ? (codec.channels ?? 1) : undefined;
}

/**
 * ortc.matchCodecs(a, b, { strict: true }): same MIME type, clock rate and channels; for
 * H.264 the same packetization-mode and profile (generateProfileLevelIdForAnswer only throws
 * when the profiles differ or do not parse, which isSameProfile already rules out); for VP9
 * the same profile-id; for multiopus the same stream layout.
 */
export function sameCodec(a: CodecLike, b: CodecLike): boolean {
  const mime = a.mimeType.toLowerCase();
  if (mime !== b.mimeType.toLowerCase()) return false;
  if (a.clockRate !== b.clockRate) return false;
  if (channelsOf(a) !== channelsOf(b)) return false;
  const pa = paramsOf(a);
  const pb = paramsOf(b);
  switch (mime) {
    case 'audio/multiopus':
      return pa['num_streams'] === pb['num_streams'] && pa['coupled_streams'] === pb['coupled_streams'];
    case 'video/h264':
      return (pa['packetization-mode'] || 0) === (pb['packetization-mode'] || 0) && isSameH264Profile(pa, pb);
    case 'video/vp9':
      return (pa['profile-id'] || 0) === (pb['profile-id'] || 0);
    default:
      return true;
  }
}

/** A short, stable description of a codec for keys and messages, e.g. `video/H264;pm=1;profile=42e01f`. */
export function describeCodec(codec: CodecLike): string {
  const p = paramsOf(codec);
  const mime = codec.mimeType;
  switch (mime.toLowerCase()) {
    case 'video/h264':
      return `${mime};pm=${String(p['packetization-mode'] ?? 0)};profile=${String(p['profile-level-id'] ?? '')}`;
    case 'video/vp9':
      return `${mime};profile-id=${String(p['profile-id'] ?? 0)}`;
    case 'audio/multiopus':
      return `${mime}/${codec.clockRate}/${String(codec.channels ?? 1)};streams=${String(p['num_streams'] ?? '')}/${String(p['coupled_streams'] ?? '')}`;
    default:
      return kindOf(mime) === 'audio' ? `${mime}/${codec.clockRate}/${String(codec.channels ?? 1)}` : `${mime}/${codec.clockRate}`;
  }
}

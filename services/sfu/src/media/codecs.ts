import type { types as ms } from 'mediasoup';

/**
 * The codecs a room's publisher router offers. Payload types follow Chrome's numbering so a
 * Chrome viewer can be served from the publisher's router directly (mediasoup 3.8 consumers
 * send with the router's payload types); viewers numbered differently get their own router.
 */
export const SUPPORTED_CODECS: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, preferredPayloadType: 98, parameters: { 'profile-id': 0 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    preferredPayloadType: 102,
    parameters: { 'packetization-mode': 1, 'level-asymmetry-allowed': 1, 'profile-level-id': '42001f' },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    preferredPayloadType: 127,
    parameters: { 'packetization-mode': 1, 'level-asymmetry-allowed': 1, 'profile-level-id': '42e01f' },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    preferredPayloadType: 125,
    parameters: { 'packetization-mode': 1, 'level-asymmetry-allowed': 1, 'profile-level-id': '4d001f' },
  },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    preferredPayloadType: 123,
    parameters: { 'packetization-mode': 1, 'level-asymmetry-allowed': 1, 'profile-level-id': '640032' },
  },
];

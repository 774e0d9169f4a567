// The SFU's SDP translation layer: pure functions between WHIP/WHEP SDP and mediasoup 3.8.4
// parameters. No I/O, no mediasoup runtime (types only).
export { SdpError, type SdpErrorCode } from './errors.js';
export {
  parseOffer,
  type Direction,
  type MediaOffer,
  type OfferedCodec,
  type OfferedHeaderExtension,
  type OfferedRid,
  type OfferedSection,
  type OfferedSsrc,
  type OfferSetup,
  type SessionOffer,
} from './offer.js';
export { publishRtpParameters } from './publish.js';
export { buildAnswer, remoteDtlsParameters, type AnswerSection, type LocalTransport } from './answer.js';
export { viewerProfile, viewerRtpCapabilities, type ViewerProfile } from './viewer.js';
export { recordingRtpCapabilities } from './recording.js';
export { PLACEHOLDER_CLOCK_RATE, PLACEHOLDER_MIME_TYPE, sameCodec, type CodecParameters, type MediaKind } from './codecs.js';
export { MEDIASOUP_DYNAMIC_PAYLOAD_TYPES, planRouterCodecs, routerRtxPayloadTypes, type RouterCodecPlan } from './payloadTypes.js';

// The one error type of the SDP layer. The HTTP layer maps `bad_sdp` to 400 and
// `unsupported_media` to 406; the message is shown to the client, so it names the
// offending line or m-section instead of echoing the offer.

export type SdpErrorCode = 'bad_sdp' | 'unsupported_media';

export class SdpError extends Error {
  constructor(
    readonly code: SdpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SdpError';
  }
}

// Capabilities for the recording consumers (PlainTransport → ffmpeg).
import type { types as ms } from 'mediasoup';
import { isPlaceholder, isRtx } from './codecs.js';

/**
 * The router's capabilities minus everything that makes mediasoup send ffmpeg packets it
 * cannot handle: no RTX (ffmpeg cannot decode it), no transport-cc / goog-remb feedback and no
 * header extensions at all. With transport-cc or abs-send-time negotiated, mediasoup runs
 * bandwidth estimation and sends probe packets (SSRC 1234, payload type 127) to the same
 * port; ffmpeg does not filter by SSRC and reports "RTP: missed N packets" (MEDIASOUP-NOTES).
 * NACK, PLI and FIR stay: they only make mediasoup answer RTCP, never send extra RTP.
 */
export function recordingRtpCapabilities(routerCaps: ms.RtpCapabilities): ms.RtpCapabilities {
  const codecs = (routerCaps.codecs ?? [])
    .filter((c) => !isRtx(c) && !isPlaceholder(c))
    .map((c) => ({
      ...c,
      parameters: { ...(c.parameters as Record<string, unknown> | undefined) },
      rtcpFeedback: (c.rtcpFeedback ?? []).filter((fb) => fb.type !== 'transport-cc' && fb.type !== 'goog-remb').map((fb) => ({ ...fb })),
    }));
  return { codecs, headerExtensions: [] };
}

// VP9 RTP payload descriptors, from what browsers send (RFC 9628) to what Debian's ffmpeg 5.1
// reads. Its depacketizer (libavformat/rtpdec_vp9.c, "experimental", written against draft-02
// of the format) has the same first octet |I|P|L|F|B|E|V|-|, but reads reference indices only
// from inside the layer-index octet and knows no TL0PICIDX: with Chrome's flexible mode (F=1,
// P_DIFF octets after the picture ID) every inter frame's payload starts one octet too early,
// and the recording holds audio only. Rewriting each packet's descriptor to the subset both
// read alike — I, P, B, E (= RTP marker, which ffmpeg checks) and the picture ID; layer
// indices, reference diffs and the scalability structure dropped — makes ffmpeg assemble the
// frames. Pure: no I/O.

/** RFC 9628 descriptor flags (first payload octet). */
const I = 0x80; // picture ID present
const P = 0x40; // inter-picture predicted
const L = 0x20; // layer indices present
const F = 0x10; // flexible mode
const B = 0x08; // start of a frame
const E = 0x04; // end of a frame
const V = 0x02; // scalability structure present

export interface Vp9Descriptor {
  /** Offset of the VP9 payload (after the descriptor) within the RTP payload. */
  payloadOffset: number;
  pictureId: Buffer | undefined;
  startOfFrame: boolean;
  endOfFrame: boolean;
  interPredicted: boolean;
  /** Spatial layer of the frame, when the descriptor has layer indices. */
  spatialId: number | undefined;
  /** Not inter-predicted and the frame's first packet: a keyframe starts here. */
  keyframeStart: boolean;
}

/** Parses an RFC 9628 descriptor; null when the payload is too short to hold what it announces. */
export function parseVp9Descriptor(p: Buffer): Vp9Descriptor | null {
  if (p.length < 2) return null;
  const b0 = p[0]!;
  let o = 1;
  let pictureId: Buffer | undefined;
  if (b0 & I) {
    const len = p[o]! & 0x80 ? 2 : 1;
    if (p.length < o + len) return null;
    pictureId = p.subarray(o, o + len);
    o += len;
  }
  let spatialId: number | undefined;
  if (b0 & L) {
    if (o >= p.length) return null;
    spatialId = (p[o]! >> 1) & 0x07; // TID(3) | U | SID(3) | D
    o += 1;
    if (!(b0 & F)) o += 1; // TL0PICIDX (non-flexible mode)
  }
  if (b0 & F && b0 & P) {
    // Up to three P_DIFF octets, each saying with its low bit whether another follows.
    for (let n = 0; n < 3; n++) {
      if (o >= p.length) return null;
      const more = p[o]! & 0x01;
      o += 1;
      if (!more) break;
    }
  }
  if (b0 & V) {
    if (o >= p.length) return null;
    const ss = p[o]!;
    o += 1;
    const spatial = (ss >> 5) + 1; // N_S + 1 layers
    if (ss & 0x10) o += 4 * spatial; // Y: width and height per layer
    if (ss & 0x08) {
      // G: picture group description
      if (o >= p.length) return null;
      const pictures = p[o]!;
      o += 1;
      for (let n = 0; n < pictures; n++) {
        if (o >= p.length) return null;
        const refs = (p[o]! >> 2) & 0x03;
        o += 1 + refs;
      }
    }
  }
  if (o >= p.length) return null; // a descriptor with no VP9 data behind it
  return {
    payloadOffset: o,
    pictureId,
    startOfFrame: !!(b0 & B),
    endOfFrame: !!(b0 & E),
    interPredicted: !!(b0 & P),
    spatialId,
    keyframeStart: !!(b0 & B) && !(b0 & P),
  };
}

/**
 * The RTP packet with its VP9 descriptor reduced to I, P, B, E and the picture ID (see above);
 * null for packets that are not VP9 payloads of `payloadType` or cannot be parsed.
 */
export function toFfmpegVp9Packet(rtp: Buffer, payloadType: number): Buffer | null {
  if (rtp.length < 12 || rtp[0]! >> 6 !== 2) return null;
  if ((rtp[1]! & 0x7f) !== payloadType) return null;
  const padding = rtp[0]! & 0x20 ? rtp[rtp.length - 1]! : 0;
  let header = 12 + 4 * (rtp[0]! & 0x0f);
  if (rtp[0]! & 0x10) {
    if (rtp.length < header + 4) return null;
    header += 4 + 4 * rtp.readUInt16BE(header + 2);
  }
  const end = rtp.length - padding;
  if (header >= end) return null;
  const payload = rtp.subarray(header, end);
  const d = parseVp9Descriptor(payload);
  if (!d) return null;
  // Spatial SVC: ffmpeg would join every layer of a picture into one frame without a
  // superframe index. Record the base layer only, ending its frames where the layer's own
  // E bit says (the RTP marker ends the whole picture, after the upper layers).
  if (d.spatialId !== undefined && d.spatialId > 0) return null;
  const marker = !!(rtp[1]! & 0x80);
  const lastOfFrame = d.spatialId !== undefined ? d.endOfFrame || marker : marker;
  // ffmpeg reads E as "end of picture" and checks it against the RTP marker bit.
  const first = (d.pictureId ? I : 0) | (d.interPredicted ? P : 0) | (d.startOfFrame ? B : 0) | (lastOfFrame ? E : 0);
  const descriptor = d.pictureId ? Buffer.concat([Buffer.of(first), d.pictureId]) : Buffer.of(first);
  const head = Buffer.from(rtp.subarray(0, header));
  head[0] = head[0]! & ~0x20; // padding is dropped with the old descriptor: clear the P bit
  head[1] = (head[1]! & 0x7f) | (lastOfFrame ? 0x80 : 0);
  return Buffer.concat([head, descriptor, payload.subarray(d.payloadOffset)]);
}

// The little of EBML (the encoding under Matroska/WebM) that joining run files needs: element
// headers read from a buffer, and elements written with sizes we choose. Pure functions.

/** Element ids used here (Matroska spec, with their length marker bits). */
export const ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
  Void: 0xec,
} as const;

/** An element's header as read: where its data starts and how long it is (null: unknown size). */
export interface ElementHeader {
  id: number;
  /** Offset of the element's first byte (its id). */
  pos: number;
  /** Offset of its data (after id and size). */
  dataPos: number;
  size: number | null;
}

/**
 * Reads the element header at `pos`, or null when `buf` ends before it does. Ids keep their
 * marker bits (as in ID); a size of all ones is "unknown" (null).
 */
export function readHeader(buf: Buffer, pos: number): ElementHeader | null {
  const idLen = vintLength(buf, pos);
  if (idLen === null || idLen > 4 || pos + idLen > buf.length) return null;
  const id = buf.readUIntBE(pos, idLen);
  const sizeLen = vintLength(buf, pos + idLen);
  if (sizeLen === null || pos + idLen + sizeLen > buf.length) return null;
  const first = buf[pos + idLen]! & (0xff >> sizeLen);
  let size = first;
  let allOnes = first === 0xff >> sizeLen;
  for (let i = 1; i < sizeLen; i++) {
    const b = buf[pos + idLen + i]!;
    size = size * 256 + b;
    allOnes &&= b === 0xff;
  }
  return { id, pos, dataPos: pos + idLen + sizeLen, size: allOnes ? null : size };
}

/** Length in bytes of the variable-size integer starting at `pos` (1–8), null past the end or if invalid. */
function vintLength(buf: Buffer, pos: number): number | null {
  if (pos >= buf.length) return null;
  const b = buf[pos]!;
  if (b === 0) return null;
  return Math.clz32(b) - 23;
}

/** An unsigned integer element's value (1–8 bytes, big-endian; beyond 2^53 is not expected here). */
export function readUint(buf: Buffer, h: ElementHeader): number {
  let v = 0;
  for (let i = 0; i < (h.size ?? 0); i++) v = v * 256 + buf[h.dataPos + i]!;
  return v;
}

/** A float element's value (4 or 8 bytes). */
export function readFloat(buf: Buffer, h: ElementHeader): number {
  return h.size === 4 ? buf.readFloatBE(h.dataPos) : h.size === 8 ? buf.readDoubleBE(h.dataPos) : 0;
}

/** The children of a master element's data in buf[start, end). Stops at the first unreadable header. */
export function children(buf: Buffer, start: number, end: number): ElementHeader[] {
  const out: ElementHeader[] = [];
  for (let pos = start; pos < end;) {
    const h = readHeader(buf, pos);
    if (!h || h.size === null || h.dataPos + h.size > end) break;
    out.push(h);
    pos = h.dataPos + h.size;
  }
  return out;
}

/** A track number at the start of a (Simple)Block's data, and the bytes it takes. */
export function readTrackNumber(buf: Buffer, pos: number): { track: number; length: number } | null {
  const len = vintLength(buf, pos);
  if (len === null || pos + len > buf.length) return null;
  let v = buf[pos]! & (0xff >> len);
  for (let i = 1; i < len; i++) v = v * 256 + buf[pos + i]!;
  return { track: v, length: len };
}

// --- writing --------------------------------------------------------------------------------

/** An id's bytes (ids keep their length marker bits). */
export function idBytes(id: number): Buffer {
  const len = id >= 0x1000000 ? 4 : id >= 0x10000 ? 3 : id >= 0x100 ? 2 : 1;
  const b = Buffer.alloc(len);
  b.writeUIntBE(id, 0, len);
  return b;
}

/** A size as an 8-byte vint (fixed width: a size written before its data is known fits). */
export function size8(n: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x01;
  b.writeUIntBE(Math.floor(n / 2 ** 32) & 0xffffff, 1, 3);
  b.writeUInt32BE(n % 2 ** 32, 4);
  return b;
}

/** A size as the shortest vint that holds it. */
function sizeMin(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    // All ones is reserved for "unknown".
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      b[0]! |= 0x80 >> (len - 1);
      return b;
    }
  }
  throw new RangeError(`EBML size too large: ${n}`);
}

/** An element of the given data. `wideSize` writes the size on 8 bytes. */
export function element(id: number, data: Buffer | Buffer[], wideSize = false): Buffer {
  const body = Array.isArray(data) ? Buffer.concat(data) : data;
  return Buffer.concat([idBytes(id), wideSize ? size8(body.length) : sizeMin(body.length), body]);
}

/** An unsigned integer element on `width` bytes (default: the fewest). */
export function uintElement(id: number, value: number, width?: number): Buffer {
  let len = width ?? 1;
  if (width === undefined) while (len < 8 && value >= 2 ** (8 * len)) len++;
  const b = Buffer.alloc(len);
  let v = value;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return element(id, b);
}

export function floatElement(id: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return element(id, b);
}

export const stringElement = (id: number, value: string): Buffer => element(id, Buffer.from(value, 'utf8'));

/** The header (id + 8-byte size) of a master element whose data is `dataSize` bytes. */
export const masterHeader = (id: number, dataSize: number): Buffer => Buffer.concat([idBytes(id), size8(dataSize)]);

// Whether ffmpeg closed a Matroska/WebM file, and the duration its header declares, read from
// its first bytes. ffmpeg's muxer reserves room for the seek head when it starts a seekable
// file and writes it (pointing at the Cues it writes last) only when it closes the file: a
// Cues reference in the head means the trailer, cues and final duration are there. (Duration
// alone is not proof: it can be copied from an input's metadata at the start.) Cheaper than an
// ffprobe process at the end of every capture.
import { open } from 'node:fs/promises';

const DURATION_ID = Buffer.from([0x44, 0x89]);
const CUES_ID = Buffer.from([0x1c, 0x53, 0xbb, 0x6b]);
const TIMECODE_SCALE_ID = Buffer.from([0x2a, 0xd7, 0xb1]);
/** Where Segment Info lives in files ffmpeg writes: within the first few hundred bytes. */
const HEAD_BYTES = 4096;

/** The declared duration in ms of a closed file, or null when the file was not closed (or has no duration). */
export function matroskaDurationMs(head: Buffer): number | null {
  if (head.indexOf(CUES_ID) < 0) return null;
  let scaleNs = 1_000_000;
  const s = head.indexOf(TIMECODE_SCALE_ID);
  if (s >= 0 && s + 4 <= head.length) {
    const size = head[s + 3]! & 0x7f; // a one-byte size (0x8N)
    if ((head[s + 3]! & 0x80) !== 0 && size >= 1 && size <= 6 && s + 4 + size <= head.length) scaleNs = head.readUIntBE(s + 4, size);
  }
  for (let i = head.indexOf(DURATION_ID); i >= 0; i = head.indexOf(DURATION_ID, i + 1)) {
    const size = head[i + 2];
    if (size === 0x88 && i + 11 <= head.length) return (head.readDoubleBE(i + 3) * scaleNs) / 1e6;
    if (size === 0x84 && i + 7 <= head.length) return (head.readFloatBE(i + 3) * scaleNs) / 1e6;
  }
  return null;
}

/** matroskaDurationMs of a file's head. */
export async function readMatroskaDurationMs(path: string): Promise<number | null> {
  const f = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await f.read(buf, 0, HEAD_BYTES, 0);
    return matroskaDurationMs(buf.subarray(0, bytesRead));
  } finally {
    await f.close();
  }
}

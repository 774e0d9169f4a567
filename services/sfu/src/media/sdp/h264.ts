// H.264 profile-level-id (RFC 6184 §8.1) as mediasoup 3.8.4 judges it. mediasoup's
// ortc.matchCodecs() calls h264-profile-level-id@1.1.1 (isSameProfile and
// generateProfileLevelIdForAnswer); this file reproduces that package's profile table so
// we pick the same codecs mediasoup will accept, without importing a transitive dependency.
// Note what the table implies: 42001f is Baseline and 42e01f Constrained Baseline — two
// different profiles — while 4d e0 1f style ids with constraint_set1 are Constrained Baseline.

export type H264Profile = 'ConstrainedBaseline' | 'Baseline' | 'Main' | 'ConstrainedHigh' | 'High' | 'PredictiveHigh444';

export interface H264ProfileLevel {
  profile: H264Profile;
  /** level_idc (31 = 3.1); 0 stands for level 1b, as in the reference package. */
  level: number;
}

/** profile_idc, profile_iop bit pattern ('x' = don't care, MSB first), profile. */
const PATTERNS: readonly [number, string, H264Profile][] = [
  [0x42, 'x1xx0000', 'ConstrainedBaseline'],
  [0x4d, '1xxx0000', 'ConstrainedBaseline'],
  [0x58, '11xx0000', 'ConstrainedBaseline'],
  [0x42, 'x0xx0000', 'Baseline'],
  [0x58, '10xx0000', 'Baseline'],
  [0x4d, '0x0x0000', 'Main'],
  [0x64, '00000000', 'High'],
  [0x64, '00001100', 'ConstrainedHigh'],
  [0xf4, '00000000', 'PredictiveHigh444'],
];

const LEVELS = new Set([10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52]);
const CONSTRAINT_SET3 = 0x10;

function matchesPattern(iop: number, pattern: string): boolean {
  for (let bit = 0; bit < 8; bit++) {
    const want = pattern[bit];
    if (want === 'x') continue;
    const have = (iop >> (7 - bit)) & 1;
    if (String(have) !== want) return false;
  }
  return true;
}

/** Parses a 6-hex-digit profile-level-id; undefined when mediasoup would not recognise it. */
export function parseProfileLevelId(value: string): H264ProfileLevel | undefined {
  if (!/^[0-9a-fA-F]{6}$/.test(value)) return undefined;
  const n = parseInt(value, 16);
  if (n === 0) return undefined;
  const levelIdc = n & 0xff;
  const iop = (n >> 8) & 0xff;
  const idc = (n >> 16) & 0xff;
  let level: number;
  if (levelIdc === 11) level = (iop & CONSTRAINT_SET3) !== 0 ? 0 : 11;
  else if (LEVELS.has(levelIdc)) level = levelIdc;
  else return undefined;
  const hit = PATTERNS.find(([pIdc, pattern]) => pIdc === idc && matchesPattern(iop, pattern));
  return hit ? { profile: hit[2], level } : undefined;
}

/**
 * The profile an fmtp declares. A missing profile-level-id means Constrained Baseline 3.1
 * (RFC 6184 default, and what the reference package assumes).
 */
export function h264ProfileOf(parameters: Readonly<Record<string, unknown>>): H264ProfileLevel | undefined {
  const raw = parameters['profile-level-id'];
  if (raw === undefined || raw === '') return { profile: 'ConstrainedBaseline', level: 31 };
  return parseProfileLevelId(String(raw));
}

/** True when both fmtps name the same, recognised profile (h264-profile-level-id's isSameProfile). */
export function isSameH264Profile(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const pa = h264ProfileOf(a);
  const pb = h264ProfileOf(b);
  return pa !== undefined && pb !== undefined && pa.profile === pb.profile;
}

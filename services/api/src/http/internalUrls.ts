// Redis is not a root of trust: the room registry says which SFU owns a room and at which
// internal URL, but the API sends INTERNAL_TOKEN only to URLs matching SFU_INTERNAL_URLS (by
// default just SFU_URL). A registry entry pointing elsewhere is refused, never called.
import { AppError } from '@live-webrtc/shared';

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** Compiles origin patterns ("*" = one host label or a port) into one matcher. */
export function internalUrlMatcher(patterns: string[]): (url: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${escape(p.replace(/\/$/, '')).replace(/\*/g, '[A-Za-z0-9-]+')}$`, 'i'));
  return (url) => res.some((re) => re.test(url));
}

export function assertAllowedInternalUrl(allowed: (url: string) => boolean, url: string): void {
  if (!allowed(url)) {
    throw new AppError(502, 'sfu_not_allowed', 'the media server owning this room is not in SFU_INTERNAL_URLS');
  }
}

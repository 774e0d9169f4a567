// The start request answers once the recording is really capturing: after the SFU created it,
// the API waits until its status leaves `starting` (the recorder saw the first decodable frame:
// `active`; or it failed or was stopped meanwhile), within a bound. A slow start is never an
// error: past the bound the answer is the recording as it is then (`starting`).
import { decodeMessage, type ChannelHub, type Recording, type RecordingStore, type RedisKeys } from '@live-webrtc/shared';

/** What a client asked for in its Prefer header (RFC 7240): `respond-async`, `wait=<seconds>`. */
export interface StartPreferences {
  respondAsync: boolean;
  /** `wait=N`: the client waits at most N seconds; null when absent or not a number. */
  waitSeconds: number | null;
}

/** Reads the preferences we honour from Prefer header values (a list, or one comma-joined value). */
export function parsePrefer(header: string | string[] | undefined): StartPreferences {
  const out: StartPreferences = { respondAsync: false, waitSeconds: null };
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const pref of values.flatMap((v) => v.split(','))) {
    // "token[=value][;param…]": parameters do not change what these two mean.
    const [head = ''] = pref.split(';');
    const eq = head.indexOf('=');
    const name = (eq < 0 ? head : head.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? ''
        : head
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    if (name === 'respond-async') out.respondAsync = true;
    // The first occurrence wins (RFC 7240 §2: a repeated preference is taken once).
    else if (name === 'wait' && out.waitSeconds === null && /^\d+$/.test(value)) out.waitSeconds = Number(value);
  }
  return out;
}

export interface StartWaitDeps {
  store: Pick<RecordingStore, 'get'>;
  hub: Pick<ChannelHub, 'subscribe'>;
  keys: Pick<RedisKeys, 'recordingChannel'>;
}

export interface StartWaitOptions {
  /** The longest wait, ms; 0 reads the recording once. */
  timeoutMs: number;
  /** Ends the wait early (the client went away). */
  signal?: AbortSignal;
  /** Re-read period when no message comes (a missed message only delays the answer by this). Default 250. */
  pollMs?: number;
}

/**
 * The recording once it is no longer `starting`, or as it is when `timeoutMs` passed (or the
 * signal fired). Null when the store has no such recording (then the caller answers what the
 * SFU said). Never throws for a slow start; a store error propagates.
 */
export async function waitUntilCapturing(d: StartWaitDeps, id: string, o: StartWaitOptions): Promise<Recording | null> {
  if (o.timeoutMs <= 0 || o.signal?.aborted) return d.store.get(id);
  const deadline = Date.now() + o.timeoutMs;
  const pollMs = o.pollMs ?? 250;
  let wake: (() => void) | undefined;
  let woken = false;
  const onMessage = (raw: string): void => {
    const m = decodeMessage(raw);
    if (!m || m.recordingId !== id) return;
    // Each status change is written before its message is sent (`active`, `capture-ended`,
    // `stop`): one read on any message of this recording sees it.
    woken = true;
    wake?.();
  };
  const onAbort = (): void => wake?.();
  o.signal?.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  // Subscribed before the first read: a message sent between the read and the subscription
  // would otherwise be missed (the read after subscribing sees what came before).
  const unsubscribe = await d.hub.subscribe(d.keys.recordingChannel(id), onMessage);
  try {
    for (;;) {
      const rec = await d.store.get(id);
      if (!rec || rec.status !== 'starting') return rec;
      const left = deadline - Date.now();
      if (left <= 0 || o.signal?.aborted) return rec;
      if (woken) {
        // A message came while that read was on its way: read again at once.
        woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.min(pollMs, left));
      });
      woken = false;
      clearTimeout(timer);
      wake = undefined;
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}

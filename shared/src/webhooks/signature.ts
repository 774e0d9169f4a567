// Webhook signatures: HMAC-SHA256 over `timestamp + "." + body` with WEBHOOK_SECRET, sent as
//   X-Webhook-Id: <event id>             (deduplicate by it)
//   X-Webhook-Timestamp: <unix seconds>
//   X-Webhook-Signature: v1=<hex digest>
// The README's recipe verifies exactly what `verifyWebhookSignature` does.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = {
  id: 'X-Webhook-Id',
  timestamp: 'X-Webhook-Timestamp',
  signature: 'X-Webhook-Signature',
} as const;

/** The hex HMAC-SHA256 of `${timestamp}.${body}`. */
export function webhookDigest(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** Headers that sign one delivery of `body`. */
export function signWebhook(secret: string, eventId: string, timestamp: number, body: string): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.id]: eventId,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: `v1=${webhookDigest(secret, timestamp, body)}`,
  };
}

/**
 * True when `signatureHeader` signs `body` at `timestamp` with `secret` and the timestamp is
 * within `toleranceS` of `nowS` (replay protection). Comparison in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  o: { timestamp: string | undefined; signature: string | undefined; body: string },
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = 300,
): boolean {
  if (!o.timestamp || !o.signature || !/^\d{1,12}$/.test(o.timestamp)) return false;
  const ts = Number(o.timestamp);
  if (Math.abs(nowS - ts) > toleranceS) return false;
  const expected = Buffer.from(`v1=${webhookDigest(secret, ts, o.body)}`);
  // Several signatures may be sent (secret rotation): any one matching is enough.
  return o.signature.split(/[ ,]+/).some((s) => {
    const got = Buffer.from(s.trim());
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

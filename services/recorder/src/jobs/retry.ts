// Retrying a side effect (storage upload, manifest write) with exponential backoff.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Tries in total. Default 5. */
  attempts?: number;
  /** Wait before the second try, ms; doubles each time up to maxDelayMs. Default 500. */
  baseDelayMs?: number;
  /** Longest wait between tries, ms. Default 8000. */
  maxDelayMs?: number;
  /** Whether an error is worth another try (default: every error). */
  retryIf?: (err: unknown) => boolean;
  /** Called after each failed try that will be retried. */
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Runs `fn` until it resolves or `attempts` tries have failed (then rejects with the last error). */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 5;
  let delay = o.baseDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || (o.retryIf && !o.retryIf(err))) throw err;
      o.onRetry?.(err, attempt);
      await sleep(delay);
      delay = Math.min(delay * 2, o.maxDelayMs ?? 8000);
    }
  }
}

// One way to bound a promise in time, for readiness checks, pings and shutdown flushes.

/** `p`, or a rejection "<what> timed out after <ms> ms" once `ms` have passed; the timer never keeps the process alive. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

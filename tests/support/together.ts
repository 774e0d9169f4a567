// Starting two test resources at once (a browser and a stack, two stacks) without leaking one
// when the other fails: with a bare Promise.all, a browser that started while its stack did not
// is never assigned, never closed, and keeps the test file's process alive forever.
type Closable = { close(): Promise<void> } | { stop(): Promise<void> };

function closeIt(x: Closable): Promise<void> {
  return 'close' in x ? x.close() : x.stop();
}

/** Both started, or neither: a failure closes whichever did start, then rethrows. */
export async function startTogether<A extends Closable, B extends Closable>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  await Promise.allSettled([ra, rb].map((r) => (r.status === 'fulfilled' ? closeIt(r.value) : Promise.resolve())));
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

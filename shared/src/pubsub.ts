// One Redis subscriber connection per process, shared by everything that listens to
// per-recording channels (a connection per recording would not scale to hundreds).
import type { Redis } from 'ioredis';

export type ChannelHandler = (message: string) => void;

export class ChannelHub {
  readonly #handlers = new Map<string, Set<ChannelHandler>>();

  /** `subscriber` becomes dedicated to this hub (subscriber mode). */
  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const h of this.#handlers.get(channel) ?? []) {
        try {
          h(message);
        } catch {
          // One listener's failure must not starve the others.
        }
      }
    });
  }

  /** Resolves once subscribed; the returned function unsubscribes this handler. */
  async subscribe(channel: string, handler: ChannelHandler): Promise<() => void> {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(handler);
    return () => {
      const s = this.#handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.#handlers.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => {});
      }
    };
  }

  close(): void {
    this.#handlers.clear();
    this.subscriber.disconnect();
  }
}

// A file read as a stream while another process is still writing it: at the end of what is
// there it waits and looks again, until `finish()` says the writer closed it; then it ends at
// the file's end. The live mp4 (liveMp4.ts) feeds ffmpeg the capture's continuous file this way.
// The stream's own backpressure paces the reads: nothing is read faster than ffmpeg takes it.
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

const CHUNK = 256 * 1024;

export class GrowingFileReader extends Readable {
  readonly #path: string;
  readonly #pollMs: number;
  #fd: FileHandle | undefined;
  #position = 0;
  #finished = false;
  #busy = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(path: string, o: { pollMs?: number } = {}) {
    super({ highWaterMark: CHUNK });
    this.#path = path;
    this.#pollMs = o.pollMs ?? 250;
  }

  /** Bytes handed on so far (all of the file once ended). */
  get position(): number {
    return this.#position;
  }

  /** The writer closed the file: read to its end, then end. */
  finish(): void {
    this.#finished = true;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#pull();
    }
  }

  override _read(): void {
    this.#pull();
  }

  #pull(): void {
    if (this.#busy || this.#timer || this.destroyed) return;
    this.#busy = true;
    void this.#readOnce().then(
      (more) => {
        this.#busy = false;
        if (more) this.#pull();
      },
      (err: unknown) => {
        this.#busy = false;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** One read; true when the consumer wants more right away. */
  async #readOnce(): Promise<boolean> {
    // Read `finished` before reading: bytes written before the flag was set are all there.
    const finished = this.#finished;
    this.#fd ??= await open(this.#path, 'r');
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.#fd.read(buf, 0, CHUNK, this.#position);
    if (bytesRead > 0) {
      this.#position += bytesRead;
      return this.push(buf.subarray(0, bytesRead));
    }
    if (finished) {
      await this.#close();
      this.push(null);
      return false;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pull();
    }, this.#pollMs);
    return false;
  }

  async #close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    await fd?.close().catch(() => {});
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#close().then(() => cb(err));
  }
}

import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile, access } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { GrowingObject } from './growing.js';
import { assertSafeKey, type ByteRange, type ComposePiece, type ObjectInfo, type Storage } from './storage.js';

/**
 * Objects as files under a root directory. Writes go to a temporary name first and are
 * renamed into place, so a reader never sees half a file. Content types are not stored:
 * they are derived from the extension.
 */
let tmpCounter = 0;

export class LocalStorage implements Storage {
  readonly kind = 'local' as const;
  /** No parts here: run files are joined by compose (a local copy). */
  readonly sharedUploads = null;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  #path(key: string): string {
    assertSafeKey(key);
    const p = join(this.root, ...key.split('/'));
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new Error(`key escapes storage root: ${key}`);
    return p;
  }

  /** The file holding `key` (which may not exist), for readers such as ffmpeg that want a path. */
  pathOf(key: string): string {
    return this.#path(key);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async check(): Promise<void> {
    await access(this.root);
  }

  async #atomicWrite(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const p = this.#path(key);
    await mkdir(dirname(p), { recursive: true });
    // Unique per write: two writes of one key in the same millisecond (concurrent manifest
    // updates) must not share a temporary file.
    const tmp = `${p}.tmp-${process.pid}-${Date.now()}-${++tmpCounter}`;
    try {
      await write(tmp);
      await rename(tmp, p);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async putBytes(key: string, body: Buffer | string, _contentType?: string): Promise<void> {
    await this.#atomicWrite(key, (tmp) => writeFile(tmp, body));
  }

  async putFile(key: string, path: string, _contentType?: string): Promise<void> {
    await this.#atomicWrite(key, (tmp) => copyFile(path, tmp));
  }

  /**
   * Nothing to do while the file grows; at the end it is moved into place: a rename when the
   * work directory is on the same file system (no byte copied), else a copy.
   */
  openGrowing(key: string, _contentType?: string): GrowingObject {
    const target = this.#path(key);
    let done = false;
    return {
      sync: async () => 0,
      complete: async (path: string) => {
        if (done) throw new Error('growing object already completed or aborted');
        const { size } = await stat(path);
        await mkdir(dirname(target), { recursive: true });
        try {
          await rename(path, target);
          done = true;
          return { size, bytesAtEnd: 0 };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        }
        await this.#atomicWrite(key, (tmp) => copyFile(path, tmp));
        done = true;
        return { size, bytesAtEnd: size };
      },
      abort: async () => {
        done = true;
      },
    };
  }

  async compose(key: string, pieces: readonly ComposePiece[], _contentType?: string): Promise<{ size: number }> {
    let size = 0;
    // Written to a temporary file first: a source may be the target itself.
    await this.#atomicWrite(key, async (tmp) => {
      const out = createWriteStream(tmp);
      try {
        for (const p of pieces) {
          if ('bytes' in p) {
            if (!out.write(p.bytes)) await new Promise<void>((r) => out.once('drain', () => r()));
            size += p.bytes.length;
            continue;
          }
          if (p.end <= p.start) continue;
          await pipeline(createReadStream(this.#path(p.key), { start: p.start, end: p.end - 1 }), out, { end: false });
          size += p.end - p.start;
        }
      } finally {
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
    });
    return { size };
  }

  async getBytes(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.#path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable | null> {
    const info = await this.stat(key);
    if (!info) return null;
    return createReadStream(this.#path(key), range ? { start: range.start, end: range.end } : {});
  }

  async download(key: string, path: string): Promise<void> {
    const src = await this.getStream(key);
    if (!src) throw new Error(`no such object: ${key}`);
    await mkdir(dirname(path), { recursive: true });
    await pipeline(src, createWriteStream(path));
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.#path(key));
      if (!s.isFile()) return null;
      return { key, size: s.size, contentType: contentTypeOf(key), modifiedAt: s.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.#path(prefix.replace(/\/$/, '') || '.');
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.includes('.tmp-')) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(base);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    await Promise.all(keys.map((k) => this.delete(k)));
    if (prefix.endsWith('/')) await rm(this.#path(prefix.slice(0, -1)), { recursive: true, force: true });
    return keys.length;
  }

  async presignGet(): Promise<string | null> {
    return null;
  }
}

const TYPES: Record<string, string> = {
  json: 'application/json',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mp4: 'video/mp4',
  m3u8: 'application/vnd.apple.mpegurl',
  ts: 'video/mp2t',
  m4s: 'video/iso.segment',
  jpg: 'image/jpeg',
  png: 'image/png',
};

export function contentTypeOf(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  return TYPES[ext] ?? 'application/octet-stream';
}

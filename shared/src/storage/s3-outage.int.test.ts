// S3 storage while the S3 endpoint is down (nothing listening on its loopback port, as when the
// gateway is stopped): an upload that fails must not leave the local file open. Found by the
// soak (#12): after each S3 outage the recorder held ~70 more file descriptors, many on segment
// files already deleted — one per failed attempt, kept until the process ended.
import assert from 'node:assert/strict';
import { readdir, readlink, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3Storage } from './s3.js';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** How many of this process's file descriptors point at `path`. */
async function openFdsOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path || target === `${path} (deleted)`) n++;
  }
  return n;
}

describe('S3 storage with the endpoint down', () => {
  let dir: string;
  let storage: S3Storage;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lw-s3-outage-'));
    storage = new S3Storage({
      endpoint: `127.0.0.1:${await closedPort()}`,
      region: 'us-east-1',
      bucket: 'down',
      accessKey: 'outage-test',
      secretKey: 'outage-test-secret',
      useSsl: false,
      pathStyle: true,
    });
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a failed small upload leaves the file closed', async () => {
    const file = join(dir, 'small.mkv');
    await writeFile(file, Buffer.alloc(64 * 1024, 1));
    for (let i = 0; i < 3; i++) await assert.rejects(storage.putFile(`rec/small-${i}.mkv`, file, 'video/x-matroska'));
    // A stream's close is asynchronous: give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await openFdsOn(file), 0, 'no descriptor left open on the file');
  });

  test('a failed multipart upload leaves the file closed', async () => {
    const file = join(dir, 'large.mkv');
    await writeFile(file, Buffer.alloc(12 * 1024 * 1024, 2));
    await assert.rejects(storage.putFile('rec/large.mkv', file, 'video/x-matroska'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await openFdsOn(file), 0, 'no descriptor left open on the file');
  });
});

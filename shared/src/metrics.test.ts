import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Counter, CumulativeTracker, createStorageMetrics, instrumentUploads, Registry, routeLabel } from './metrics.js';
import { LocalStorage } from './storage/local.js';

test('routeLabel: the router template, else the WHIP/WHEP template, else unmatched (never a raw path)', () => {
  assert.equal(routeLabel('/api/v1/rooms/:room', '/api/v1/rooms/a'), '/api/v1/rooms/:room');
  assert.equal(routeLabel(undefined, '/api/whip/publish/room-1'), '/api/whip/publish/:room');
  assert.equal(routeLabel(undefined, '/api/whip/publish/room-1/01HXYZ'), '/api/whip/publish/:room/:session');
  assert.equal(routeLabel(undefined, '/api/whep/play/r'), '/api/whep/play/:room');
  assert.equal(routeLabel(undefined, '/api/whep/play/r/s'), '/api/whep/play/:room/:session');
  assert.equal(routeLabel(undefined, '/api/whep/play/r/s/extra'), 'unmatched');
  assert.equal(routeLabel(undefined, '/favicon.ico'), 'unmatched');
});

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

test('CumulativeTracker: counts growth across objects that come and go, never decreases', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 't_total', help: 't', labelNames: ['kind'], registers: [registry] });
  const t = new CumulativeTracker(c);
  t.update(new Map([['p1', [{ kind: 'video' }, 10]]]));
  t.update(
    new Map([
      ['p1', [{ kind: 'video' }, 15]],
      ['p2', [{ kind: 'video' }, 4]],
    ]),
  );
  assert.equal(await value(registry, 't_total', { kind: 'video' }), 19);
  // p1 gone, p2 reports less than before (a reset): no decrease, no double count.
  t.update(new Map([['p2', [{ kind: 'video' }, 3]]]));
  assert.equal(await value(registry, 't_total', { kind: 'video' }), 19);
  t.update(new Map([['p2', [{ kind: 'video' }, 6]]]));
  assert.equal(await value(registry, 't_total', { kind: 'video' }), 21);
  // A new object under a reused id starts from zero again.
  t.update(new Map([['p1', [{ kind: 'video' }, 2]]]));
  assert.equal(await value(registry, 't_total', { kind: 'video' }), 23);
});

test('instrumentUploads: bytes, durations and failures of real uploads; other methods untouched', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lw-metrics-'));
  try {
    const registry = new Registry();
    const storage = instrumentUploads(new LocalStorage(join(dir, 'store')), createStorageMetrics(registry));
    await storage.init();
    const file = join(dir, 'seg.mkv');
    await writeFile(file, Buffer.alloc(1234));
    await storage.putFile('recordings/a/seg.mkv', file, 'video/x-matroska');
    await storage.putBytes('recordings/a/m.json', '{"x":1}', 'application/json');
    assert.equal(await value(registry, 'lw_storage_upload_bytes_total', { storage: 'local' }), 1241);
    assert.equal((await storage.stat('recordings/a/seg.mkv'))?.size, 1234, 'stat runs on the original object');
    await assert.rejects(storage.putFile('recordings/a/missing.mkv', join(dir, 'nope'), 'video/x-matroska'));
    assert.equal(await value(registry, 'lw_storage_upload_failures_total', { storage: 'local' }), 1);
    const hist = (await registry.getMetricsAsJSON()).find((m) => m.name === 'lw_storage_upload_seconds');
    const counts = ((hist?.values ?? []) as { metricName?: string; labels: Record<string, unknown>; value: number }[]).filter(
      (v) => v.metricName === 'lw_storage_upload_seconds_count',
    );
    assert.deepEqual(counts.map((v) => `${String(v.labels['outcome'])}=${v.value}`).sort(), ['failed=1', 'ok=2']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

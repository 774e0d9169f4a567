import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { openApiDocument, routeSpecs } from '../routes/openapi.js';
import { recordingRoutes } from '../routes/recordings.js';
import { roomRoutes } from '../routes/rooms.js';
import { tokenRoutes } from '../routes/tokens.js';
import { matchRoute, openApiFrom } from './contract.js';

test('every route the API serves has its spec (the document cannot drift from the code)', () => {
  const deps = {} as ApiDeps; // routes only read their deps when a request comes
  const served = [roomRoutes(deps), recordingRoutes(deps), tokenRoutes(deps)].flatMap((r) =>
    r.stack
      .filter((l) => l.methods.length > 0)
      .flatMap((l) => l.methods.filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${String(l.path).replace(/\/$/, '')}`)),
  );
  assert.ok(served.length >= 9);
  const specified = new Set(routeSpecs.map((s) => `${s.method} ${s.path}`));
  for (const route of served) assert.ok(specified.has(route), `${route} has no spec in routes/openapi.ts`);
  for (const route of served) {
    const [method, path] = route.split(' ') as [string, string];
    assert.ok(openApiDocument.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method], `${route} is not in the document`);
  }
});

test('the document is generated from the schemas: params, query, body and responses', () => {
  const doc = openApiFrom(
    [
      {
        method: 'post',
        path: '/x/:room',
        tag: 't',
        summary: 's',
        params: z.object({ room: z.string().regex(/^[a-z]+$/) }),
        query: z.object({ limit: z.coerce.number().int().max(5).optional() }),
        body: z.object({ n: z.number().int() }),
        responses: { 201: { description: 'made', schema: z.object({ id: z.string() }) }, 400: { description: 'bad' } },
      },
    ],
    { title: 't', version: '1', description: 'd' },
  );
  const op = doc.paths['/x/{room}']!['post'] as Record<string, unknown>;
  assert.deepEqual(
    (op['parameters'] as { name: string; in: string }[]).map((p) => `${p.in}:${p.name}`),
    ['path:room', 'query:limit'],
  );
  assert.match(JSON.stringify(op['requestBody']), /"n":\{"type":"integer"/);
  assert.match(
    JSON.stringify(op['responses']),
    /"400":\{"description":"bad","content":\{"application\/json":\{"schema":\{"type":"object","properties":\{"error"/,
  );
  assert.equal(doc.openapi, '3.1.0');
});

test('routes are matched with their parameters decoded', () => {
  const m = matchRoute(routeSpecs, 'GET', '/api/v1/recordings/01ARZ3NDEKTSV4RRFFQ69G5FAV/outputs/raw');
  assert.equal(m?.spec.path, '/api/v1/recordings/:id/outputs/:output');
  assert.deepEqual(m?.params, { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', output: 'raw' });
  assert.equal(matchRoute(routeSpecs, 'PUT', '/api/v1/rooms'), undefined);
});

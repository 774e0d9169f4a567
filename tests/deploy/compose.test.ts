// The deployment files, checked without a Docker engine (none runs on these machines): the
// compose stack and the Kubernetes manifest give each service an environment its own config
// schema accepts, the files they mount exist, Prometheus scrapes all three services, and every
// metric the Grafana dashboard plots is one the code defines.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadApiConfig } from '@live-webrtc/api/config';
import { loadRecorderConfig } from '@live-webrtc/recorder/config';
import { loadSfuConfig } from '@live-webrtc/sfu/config';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE = join(ROOT, 'compose');
const REFERENCE_VARIABLES = [
  'HTTP_ADDR',
  'AUTH_TOKEN',
  'RECORD_ENABLED',
  'RECORD_DIR',
  'TURN_URLS',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'S3_USE_SSL',
  'S3_PATH_STYLE',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_SERVICE_NAME',
  'REDIS_URL',
];

/** `${VAR:-default}` → default (or "" with no default), as compose does with VAR unset. */
const interpolate = (v: string): string => v.replace(/\$\{[A-Z_]+(?::-([^}]*))?\}/g, (_m, d: string | undefined) => d ?? '');

function loadsInEveryService(env: Record<string, string>, where: string): void {
  for (const [name, load] of [
    ['api', loadApiConfig],
    ['sfu', loadSfuConfig],
    ['recorder', loadRecorderConfig],
  ] as const) {
    assert.doesNotThrow(() => load(env), `${where}: the ${name} service rejects this environment`);
  }
}

test('the compose stack: every service present, an environment each live-webrtc service accepts, mounted files exist', () => {
  const doc = parse(readFileSync(join(COMPOSE, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: (string | object)[] }>;
  };
  for (const s of ['live-webrtc', 'redis', 'minio', 'prometheus', 'grafana', 'otel-collector', 'coturn']) assert.ok(doc.services[s], s);
  const env = Object.fromEntries(
    Object.entries(doc.services['live-webrtc']?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
  );
  for (const v of REFERENCE_VARIABLES) assert.ok(v in env, `compose sets ${v}`);
  loadsInEveryService(env, 'docker-compose.yml');
  for (const [name, svc] of Object.entries(doc.services)) {
    for (const vol of svc.volumes ?? []) {
      if (typeof vol !== 'string' || !vol.startsWith('./')) continue;
      const host = vol.split(':')[0]!;
      if (host === './records') continue; // created by the container at first start
      assert.ok(existsSync(join(COMPOSE, host)), `${name} mounts ${host}, which does not exist`);
    }
  }
});

test('the Kubernetes manifest gives each instance an environment the services accept', () => {
  const docs = parseAllDocuments(readFileSync(join(COMPOSE, 'k8s', 'live-webrtc.yaml'), 'utf8')).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const set = docs.find((d) => d['kind'] === 'StatefulSet' || d['kind'] === 'Deployment') as {
    spec: { template: { spec: { containers: { env: { name: string; value?: string }[]; readinessProbe?: unknown }[] } } };
  };
  assert.ok(set, 'a workload');
  const container = set.spec.template.spec.containers[0]!;
  assert.ok(container.readinessProbe, 'a readiness probe (/readyz)');
  // Values from secrets and the downward API, as the cluster would fill them in.
  const env: Record<string, string> = { AUTH_TOKEN: 'secret', TURN_SECRET: 'secret', INSTANCE_ID: 'live-webrtc-0', POD_IP: '10.0.0.7' };
  for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_m, n: string) => env[n] ?? '');
  loadsInEveryService(env, 'k8s/live-webrtc.yaml');
  assert.equal(env['PUBLIC_URL'], 'http://10.0.0.7:8080', 'redirects go to the instance itself');
});

test('Prometheus scrapes all three services; the dashboard plots only metrics the code defines', () => {
  const prom = parse(readFileSync(join(COMPOSE, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  for (const port of ['8080', '8081', '8083'])
    assert.ok(
      targets.some((t) => t.endsWith(`:${port}`)),
      `scrapes :${port}`,
    );

  const source = sourceText(['shared/src', 'services/sfu/src', 'services/recorder/src', 'services/api/src']);
  const dashboard = JSON.parse(readFileSync(join(COMPOSE, 'grafana', 'dashboards', 'live-webrtc.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  for (const panel of dashboard.panels) {
    for (const t of panel.targets) {
      for (const m of t.expr.match(/lw_[a-z_]+/g) ?? []) {
        const base = m.replace(/_(bucket|sum|count)$/, '');
        // prom-client's default metrics carry the lw_ prefix too (collectDefaultMetrics).
        if (base.startsWith('lw_process_') || base.startsWith('lw_nodejs_')) continue;
        assert.ok(source.includes(`'${base}'`), `panel "${panel.title}" plots ${m}, which no service defines`);
      }
    }
  }
});

function sourceText(dirs: string[]): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(readFileSync(p, 'utf8'));
    }
  };
  for (const d of dirs) walk(join(ROOT, d));
  return out.join('\n');
}

// The compose stack and the files it mounts, checked without a container engine (the podman
// deploy test, stack.int.test.ts, runs it): the services the product needs, healthchecks and
// conditional depends_on everywhere, secrets required rather than defaulted, one .env.example
// that names every variable, each live-webrtc service's environment accepted by its config
// schema, Prometheus scraping the three services, and dashboards that plot defined metrics.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadApiConfig } from '@live-webrtc/api/config';
import { loadRecorderConfig } from '@live-webrtc/recorder/config';
import { loadSfuConfig } from '@live-webrtc/sfu/config';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE = join(ROOT, 'compose');
const SECRETS = [
  'AUTH_TOKEN',
  'JWT_SECRET',
  'INTERNAL_TOKEN',
  'REDIS_PASSWORD',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'TURN_SECRET',
  'GRAFANA_ADMIN_PASSWORD',
];

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
  ports?: string[];
  container_name?: string;
  hostname?: string;
  deploy?: { replicas?: number };
}
const composeText = readFileSync(join(COMPOSE, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const example = Object.fromEntries(
  readFileSync(join(COMPOSE, '.env.example'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_0-9]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

/** Compose interpolation of ${VAR}, ${VAR:-default}, ${VAR:?error} against `vars`. */
function interpolate(v: string, vars: Record<string, string>): string {
  return v.replace(/\$\{([A-Z_0-9]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const val = vars[name];
    if (val) return val;
    if (op === '?') throw new Error(`${name} is required: ${arg ?? ''}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

test('the services of a working product, each with a healthcheck and conditional depends_on', () => {
  const s = compose.services;
  for (const name of [
    'api',
    'sfu',
    'recorder',
    'redis',
    'minio',
    'minio-init',
    'prometheus',
    'grafana',
    'otel-collector',
    'tempo',
    'coturn',
  ]) {
    assert.ok(s[name], `service ${name}`);
  }
  for (const [name, svc] of Object.entries(s)) {
    if (name !== 'minio-init') assert.ok(svc.healthcheck?.test.length, `${name} has a healthcheck`);
    assert.equal(svc.network_mode, undefined, `${name} does not use host networking`);
    for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
      assert.ok(s[dep], `${name} depends on an existing ${dep}`);
      assert.match(cond.condition, /^service_(healthy|started|completed_successfully)$/, `${name} -> ${dep} has a condition`);
    }
  }
  // The recorder scales (`docker compose up --scale recorder=3`): nothing of it is bound to a
  // fixed host port, container name or host name, and the base file fixes no replica count (the
  // local podman run sets deploy.replicas in its override: podman-compose ignores --scale).
  assert.equal(s['recorder']!.ports, undefined);
  assert.equal(s['recorder']!.container_name, undefined);
  assert.equal(s['recorder']!.hostname, undefined);
  assert.equal(s['recorder']!.deploy?.replicas, undefined);
  assert.ok(
    (s['recorder']!.volumes ?? []).every((v) => v.endsWith(':ro')),
    'no writable volume every replica would share (each keeps its work directory to itself)',
  );
  assert.equal(s['recorder']!.environment?.['RECORDER_HOST'], 'auto');
  assert.match(s['sfu']!.ports?.[0] ?? '', /^\$\{RTC_MIN_PORT:-\d+\}-\$\{RTC_MAX_PORT:-\d+\}:.*\/udp$/, 'media ports as a UDP range');
  assert.match(s['sfu']!.environment?.['ANNOUNCED_IP'] ?? '', /^\$\{ANNOUNCED_IP:\?/, 'ANNOUNCED_IP is required');
});

test('secrets are required, never defaulted; .env.example names every variable', () => {
  for (const name of SECRETS) {
    assert.ok(new RegExp(`\\$\\{${name}:\\?`).test(composeText), `${name} is required somewhere (\${${name}:?…})`);
    assert.ok(!new RegExp(`\\$\\{${name}:-`).test(composeText), `${name} has no default`);
    assert.equal(example[name], '', `.env.example ships no value for ${name}`);
  }
  const used = new Set([...composeText.matchAll(/\$\{([A-Z_0-9]+)/g)].map((m) => m[1]!));
  for (const v of used) assert.ok(v in example, `.env.example lists ${v}`);
  // Without the secrets, compose refuses (interpolation of a required variable fails).
  assert.throws(() => interpolate(compose.services['api']!.environment!['AUTH_TOKEN']!, {}), /AUTH_TOKEN is required/);
});

test("each live-webrtc service's environment, interpolated from .env.example + secrets, passes its config schema", () => {
  const vars: Record<string, string> = { ...example, ANNOUNCED_IP: '203.0.113.7' };
  // 32 bytes or more: the services refuse shorter secrets.
  for (const s of SECRETS) vars[s] = `secret-${s.toLowerCase()}-0123456789abcdef0123456789abcdef`;
  // compose/entrypoint.sh replaces `auto` by the container's address.
  const auto = (k: string, v: string): string => (v !== 'auto' ? v : k === 'SFU_INTERNAL_URL' ? 'http://10.89.0.5:8081' : '10.89.0.5');
  for (const [name, load] of [
    ['api', loadApiConfig],
    ['sfu', loadSfuConfig],
    ['recorder', loadRecorderConfig],
  ] as const) {
    const svc = compose.services[name]!;
    assert.deepEqual(svc.command, [name], `${name} runs the ${name} service`);
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, auto(k, interpolate(String(v), vars))]));
    assert.doesNotThrow(() => load(env), `${name} rejects its environment`);
    assert.equal(
      env['REDIS_URL'],
      'redis://:secret-redis_password-0123456789abcdef0123456789abcdef@redis:6379',
      `${name} authenticates to Redis`,
    );
  }
});

test('mounted files exist; Prometheus scrapes the three services and loads the alert rules', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const vol of svc.volumes ?? []) {
      if (!vol.startsWith('./')) continue;
      assert.ok(existsSync(join(COMPOSE, vol.split(':')[0]!)), `${name} mounts ${vol}, which does not exist`);
    }
  }
  const prom = parse(readFileSync(join(COMPOSE, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
  };
  const jobs = Object.fromEntries(prom.scrape_configs.map((c) => [c.job_name, c.dns_sd_configs[0]!]));
  assert.deepEqual(jobs['live-webrtc-api'], { ...jobs['live-webrtc-api'], names: ['api'], port: 8080 });
  assert.deepEqual(jobs['live-webrtc-sfu'], { ...jobs['live-webrtc-sfu'], names: ['sfu'], port: 8081 });
  assert.deepEqual(jobs['live-webrtc-recorder'], { ...jobs['live-webrtc-recorder'], names: ['recorder'], port: 8083 });
  for (const f of prom.rule_files) assert.ok(existsSync(join(COMPOSE, 'prometheus', f.split('/').pop()!)), f);
});

test('dashboards: one per concern, an instance variable, a unit on every panel, only defined metrics', () => {
  const source = sourceText(['shared/src', 'services/sfu/src', 'services/recorder/src', 'services/api/src']);
  const dir = join(COMPOSE, 'grafana', 'dashboards');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), ['api.json', 'overview.json', 'recorder.json', 'sfu.json']);
  for (const f of files) {
    const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
      templating: { list: { name: string }[] };
      panels: { title: string; fieldConfig: { defaults: { unit?: string } }; targets: { expr: string }[] }[];
    };
    assert.ok(
      d.templating.list.some((v) => v.name === 'instance'),
      `${f}: instance variable`,
    );
    for (const panel of d.panels) {
      assert.ok(panel.fieldConfig.defaults.unit, `${f} "${panel.title}" has a unit`);
      for (const t of panel.targets) {
        assert.ok(t.expr.includes('$instance'), `${f} "${panel.title}" filters on $instance`);
        for (const m of t.expr.match(/lw_[a-z0-9_]+/g) ?? []) {
          const base = m.replace(/_(bucket|sum|count)$/, '');
          if (base.startsWith('lw_process_') || base.startsWith('lw_nodejs_')) continue; // prom-client defaults
          assert.ok(source.includes(`'${base}'`), `${f} "${panel.title}" plots ${m}, which no service defines`);
        }
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

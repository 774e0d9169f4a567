// The Kubernetes manifests (compose/k8s, a kustomization), checked without a cluster: every
// object validates against the Kubernetes OpenAPI schemas (kubernetes-models), and what the
// schemas cannot see is checked on the parsed objects: references resolve (secrets, config
// maps, HPA and PDB targets, selectors), every container has probes and resource limits, the
// SFU's host networking keeps cluster DNS, grace periods cover finalizing, and each service's
// environment, as the cluster would fill it in, is accepted by that service's config schema.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadApiConfig } from '@live-webrtc/api/config';
import { loadRecorderConfig } from '@live-webrtc/recorder/config';
import { loadSfuConfig } from '@live-webrtc/sfu/config';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const K8S = join(ROOT, 'compose', 'k8s');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  hostNetwork?: boolean;
  dnsPolicy?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
}

const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as {
  resources: string[];
  secretGenerator: { name: string; envs: string[] }[];
};
const objects: K8sObject[] = kustomization.resources.flatMap((f) =>
  parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => d.toJS() as K8sObject),
);
const byKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const find = (kind: string, name: string): K8sObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);
const podSpec = (o: K8sObject): PodSpec => {
  const spec = o.spec as { template: { spec: PodSpec } };
  return spec.template.spec;
};
const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
// The secret the kustomization generates, with the keys of its example env file.
const generated = new Map(
  kustomization.secretGenerator.map((g) => [
    g.name,
    new Set(
      readFileSync(join(K8S, `${g.envs[0]!}.example`), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => l.split('=')[0]!),
    ),
  ]),
);

test('every object validates against the Kubernetes schemas', async () => {
  assert.ok(objects.length >= 15, `${objects.length} objects`);
  for (const o of objects) {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
    const mod = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version!}`)) as Record<
      string,
      new (x: unknown) => { validate(): void }
    >;
    const Model = mod[o.kind];
    assert.ok(Model, `kubernetes-models has ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata.name} does not validate`);
  }
  // The validator sees types; a wrong type anywhere must fail it (the check is not a no-op).
  const { Deployment } = await import('kubernetes-models/apps/v1');
  const broken = structuredClone(find('Deployment', 'api')) as unknown as { spec: { replicas: unknown } };
  broken.spec.replicas = 'two';
  assert.throws(() => new Deployment(broken as never).validate());
});

test('the workloads the issue asks for, with probes, limits, non-root and grace periods', () => {
  for (const [kind, name] of [
    ['Deployment', 'api'],
    ['Deployment', 'recorder'],
    ['StatefulSet', 'sfu'],
    ['StatefulSet', 'redis'],
    ['StatefulSet', 'minio'],
    ['Job', 'minio-create-bucket'],
    ['Ingress', 'live-webrtc'],
  ] as const) {
    assert.ok(find(kind, name), `${kind}/${name}`);
  }
  for (const w of workloads) {
    const spec = podSpec(w);
    assert.equal(spec.securityContext?.runAsNonRoot, true, `${w.metadata.name} runs as non-root`);
    for (const c of spec.containers) {
      assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], `${w.metadata.name}/${c.name} requests`);
      assert.ok(c.resources?.limits?.['cpu'] && c.resources.limits['memory'], `${w.metadata.name}/${c.name} limits`);
      if (w.kind !== 'Job') assert.ok(c.readinessProbe, `${w.metadata.name}/${c.name} readiness probe`);
    }
  }
  const sfu = podSpec(find('StatefulSet', 'sfu')!);
  assert.equal(sfu.hostNetwork, true);
  assert.equal(sfu.dnsPolicy, 'ClusterFirstWithHostNet', 'host networking keeps cluster DNS');
  assert.equal((find('Service', 'sfu')!.spec as { sessionAffinity?: string }).sessionAffinity, 'ClientIP');
  // Finalizing after a stop: ffmpeg stop timeout + last upload + finalize of a long recording.
  assert.ok((podSpec(find('Deployment', 'recorder')!).terminationGracePeriodSeconds ?? 30) >= 600, 'recorder grace period');
  const tls = (find('Ingress', 'live-webrtc')!.spec as { tls?: { secretName: string }[] }).tls;
  assert.ok(tls?.[0]?.secretName, 'TLS at the ingress');
});

test('references resolve: secrets, config maps, selectors, PDBs and autoscalers', () => {
  const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  for (const w of workloads) {
    const spec = w.spec as {
      selector?: { matchLabels: Record<string, string> };
      template: { metadata?: { labels?: Record<string, string> } };
    };
    if (spec.selector) {
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
        assert.equal(spec.template.metadata?.labels?.[k], v, `${w.metadata.name}: selector matches the pod labels`);
      }
    }
    for (const c of podSpec(w).containers) {
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s) assert.ok(generated.get(s.name)?.has(s.key), `${w.metadata.name}: secret ${s.name}/${s.key} is generated`);
        const m = e.valueFrom?.configMapKeyRef;
        if (m) assert.ok(m.key in (configMaps.get(m.name) ?? {}), `${w.metadata.name}: config map ${m.name}/${m.key}`);
        assert.ok(!/SECRET|PASSWORD|TOKEN|ACCESS_KEY/.test(e.name) || e.valueFrom, `${w.metadata.name}: ${e.name} comes from a Secret`);
      }
      for (const f of c.envFrom ?? []) if (f.configMapRef) assert.ok(configMaps.has(f.configMapRef.name), f.configMapRef.name);
    }
  }
  for (const d of Object.values(Object.fromEntries(byKind('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}])))) {
    for (const k of Object.keys(d)) assert.ok(!/SECRET|PASSWORD|TOKEN|ACCESS_KEY/.test(k), `no credential ${k} in a ConfigMap`);
  }
  const pdbs = byKind('PodDisruptionBudget');
  for (const name of ['api', 'recorder', 'sfu']) {
    const pdb = pdbs.find((p) => p.metadata.name === name);
    assert.ok(pdb, `a PDB for ${name}`);
    const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    const target = workloads.find((w) => w.metadata.name === name)!;
    const labels = (target.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `PDB ${name} selects its pods`);
  }
  const hpa = find('HorizontalPodAutoscaler', 'recorder');
  assert.ok(hpa, 'recorders are autoscaled');
  const hs = hpa.spec as {
    scaleTargetRef: { kind: string; name: string };
    metrics: { type: string; external?: { metric: { name: string } } }[];
  };
  assert.ok(find(hs.scaleTargetRef.kind, hs.scaleTargetRef.name), 'the HPA targets an existing workload');
  assert.ok(
    hs.metrics.some((m) => m.type === 'External' && m.external?.metric.name === 'lw_queue_jobs'),
    'on queue depth (a metric the recorder exports)',
  );
});

test("each service's environment, filled in as the cluster would, passes its config schema", () => {
  const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  const fields: Record<string, string> = { 'metadata.name': 'sfu-0', 'status.hostIP': '192.0.2.10', 'status.podIP': '10.1.2.3' };
  const loaders = { api: loadApiConfig, sfu: loadSfuConfig, recorder: loadRecorderConfig } as const;
  for (const [svc, load] of Object.entries(loaders)) {
    const w = workloads.find((x) => x.metadata.name === svc)!;
    const c = podSpec(w).containers[0]!;
    assert.deepEqual(c.args, [svc], `${svc} runs the ${svc} service`);
    const env: Record<string, string> = {};
    for (const f of c.envFrom ?? []) Object.assign(env, configMaps.get(f.configMapRef?.name ?? '') ?? {});
    // $(VAR) refers to variables defined earlier in the list, as Kubernetes expands them.
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_m, n: string) => env[n] ?? `$(${n})`);
      else if (e.valueFrom?.secretKeyRef)
        env[e.name] = `secret-${e.name.toLowerCase()}-0123456789abcdef0123456789abcdef`; // ≥ 32 bytes, as the services require
      else if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath] ?? '';
    }
    assert.ok(!Object.values(env).some((v) => v.includes('$(')), `${svc}: every $(VAR) resolves`);
    assert.doesNotThrow(() => load(env), `${svc} rejects its environment`);
    assert.match(env['REDIS_URL'] ?? '', /^redis:\/\/:secret-redis_password-[0-9a-f]{32}@redis:6379$/);
  }
  assert.ok(existsSync(join(K8S, 'secrets.env.example')));
});

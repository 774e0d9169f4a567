// The alert rules: valid for Prometheus (promtool check rules) and doing what they say on
// recorded series (promtool test rules, compose/prometheus/alerts.test.yml). promtool comes
// with Debian's prometheus package (scripts/install-system.sh --with-test-deps).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../../../compose/prometheus/', import.meta.url));
const promtool = (...args: string[]): string => execFileSync('promtool', args, { cwd: DIR, encoding: 'utf8' });

test('promtool accepts the rules, and every alert has a unit test that fires it', () => {
  assert.match(promtool('check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/);
  assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  const rules = parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const a of [
    'LiveWebrtcRecorderDown',
    'LiveWebrtcCaptureCapacityExhausted',
    'LiveWebrtcUploadsFailing',
    'LiveWebrtcRecordingsFailing',
    'LiveWebrtcQueueBacklog',
    'LiveWebrtcSfuInstanceLost',
  ]) {
    assert.ok(alerts.includes(a), `rule ${a}`);
  }
  for (const a of alerts) {
    assert.match(tests, new RegExp(`alertname: ${a}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${a} has a test in which it fires`);
  }
});

test('a broken rule file fails the check (promtool is really consulted)', () => {
  assert.throws(() =>
    execFileSync('promtool', ['check', 'rules', '/dev/stdin'], { input: 'groups: [{name: x, rules: [{alert: A, expr: "rate(x["}]}]' }),
  );
});

#!/usr/bin/env node
// The Grafana dashboards, one per concern, generated from the panel lists below (edit here,
// then `node compose/grafana/dashboards.mjs` rewrites compose/grafana/dashboards/*.json).
// Every expression filters on the `instance` variable; $__rate_interval is Grafana's. The
// deploy/observability tests evaluate every expression against a real Prometheus.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const I = 'instance=~"$instance"';
const R = '$__rate_interval';
const rate = (m, sel = '') => `rate(${m}{${[I, sel].filter(Boolean).join(',')}}[${R}])`;
const p95 = (m, by, sel = '') => `histogram_quantile(0.95, sum by (le${by ? `, ${by}` : ''}) (${rate(`${m}_bucket`, sel)}))`;
const httpErrors = (svc, cls) =>
  `sum by (route) (${rate('lw_http_request_duration_seconds_count', `service="${svc}",status=~"${cls}.."`)}) or vector(0)`;
const runtimePanels = (svc) => [
  {
    title: 'Event-loop lag p99',
    expr: `max by (instance) (lw_nodejs_eventloop_lag_p99_seconds{${I},service="${svc}"})`,
    unit: 's',
    thresholds: [0.05, 0.2],
  },
  { title: 'Heap used', expr: `sum by (instance) (lw_nodejs_heap_size_used_bytes{${I},service="${svc}"})`, unit: 'bytes' },
  {
    title: 'Resident memory',
    expr: `sum by (instance) (lw_process_resident_memory_bytes{${I},service="${svc}"})`,
    unit: 'bytes',
    thresholds: [1.5e9, 3e9],
  },
  {
    title: 'CPU',
    expr: `sum by (instance) (${rate('lw_process_cpu_seconds_total', `service="${svc}"`)})`,
    unit: 'percentunit',
    thresholds: [0.7, 0.9],
  },
];
const httpPanels = (svc) => [
  {
    title: 'Requests by route',
    expr: `sum by (route) (${rate('lw_http_request_duration_seconds_count', `service="${svc}"`)})`,
    unit: 'reqps',
  },
  { title: 'Server errors (5xx) by route', expr: httpErrors(svc, 5), unit: 'reqps', thresholds: [0.01, 0.1] },
  { title: 'Client errors (4xx) by route', expr: httpErrors(svc, 4), unit: 'reqps' },
  {
    title: 'Latency p95 by route',
    expr: p95('lw_http_request_duration_seconds', 'route', `service="${svc}"`),
    unit: 's',
    thresholds: [0.5, 2],
  },
];

const dashboards = {
  overview: {
    title: 'live-webrtc / Overview',
    panels: [
      {
        title: 'Services up',
        expr: `sum by (job) (up{job=~"live-webrtc-.*",${I}})`,
        unit: 'short',
        type: 'stat',
        thresholds: [0.5, 1],
        invert: true,
      },
      { title: 'Rooms', expr: `sum(lw_sfu_rooms{${I}})`, unit: 'short', type: 'stat' },
      { title: 'Sessions by kind', expr: `sum by (kind) (lw_sfu_sessions{${I}})`, unit: 'short' },
      { title: 'Recordings by status', expr: `max by (status) (lw_recordings{${I}})`, unit: 'short' },
      {
        title: 'Server error ratio (all services)',
        expr: `(sum(${rate('lw_http_request_duration_seconds_count', 'status=~"5.."')}) or vector(0)) / clamp_min(sum(${rate('lw_http_request_duration_seconds_count')}), 1e-9)`,
        unit: 'percentunit',
        thresholds: [0.01, 0.05],
      },
      {
        title: 'Queue backlog (waiting jobs)',
        expr: `max by (queue) (lw_queue_jobs{${I},state="waiting"})`,
        unit: 'short',
        thresholds: [10, 100],
      },
      {
        title: 'Free capture slots',
        expr: `sum(lw_recorder_capture_capacity{${I}})`,
        unit: 'short',
        type: 'stat',
        thresholds: [1, 5],
        invert: true,
      },
      { title: 'Resident memory by service', expr: `sum by (service) (lw_process_resident_memory_bytes{${I}})`, unit: 'bytes' },
    ],
  },
  api: {
    title: 'live-webrtc / API',
    panels: [
      ...httpPanels('api'),
      {
        title: 'WHIP/WHEP requests by route and status',
        expr: `sum by (route, status) (${rate('lw_http_request_duration_seconds_count', 'service="api",route=~"/api/wh(ip|ep)/.*"')})`,
        unit: 'reqps',
      },
      {
        title: 'Recording transitions by status',
        expr: `sum by (status) (${rate('lw_recording_transitions_total', 'service="api"')})`,
        unit: 'ops',
      },
      ...runtimePanels('api'),
    ],
  },
  sfu: {
    title: 'live-webrtc / SFU',
    panels: [
      { title: 'Rooms by instance', expr: `sum by (instance) (lw_sfu_rooms{${I}})`, unit: 'short' },
      { title: 'Sessions by kind', expr: `sum by (instance, kind) (lw_sfu_sessions{${I}})`, unit: 'short' },
      // A gauge of cumulative CPU seconds: deriv, not rate (a replaced worker restarts from 0).
      {
        title: 'mediasoup worker CPU',
        expr: `clamp_min(deriv(lw_sfu_worker_cpu_seconds{${I}}[${R}]), 0)`,
        unit: 'percentunit',
        thresholds: [0.7, 0.9],
      },
      {
        title: 'RTP loss from publishers',
        expr: `sum by (kind) (${rate('lw_sfu_rtp_packets_lost_total')}) / clamp_min(sum by (kind) (${rate('lw_sfu_rtp_packets_received_total')}), 1)`,
        unit: 'percentunit',
        thresholds: [0.02, 0.05],
      },
      { title: 'RTP packets received', expr: `sum by (kind) (${rate('lw_sfu_rtp_packets_received_total')})`, unit: 'pps' },
      {
        title: 'Keyframe requests to publishers',
        expr: `sum by (kind) (${rate('lw_sfu_keyframe_requests_total')})`,
        unit: 'ops',
        thresholds: [1, 5],
      },
      {
        title: 'Sessions reaped (client gone)',
        expr: `sum by (reason) (${rate('lw_sfu_sessions_reaped_total')}) or vector(0)`,
        unit: 'ops',
      },
      ...httpPanels('sfu'),
      ...runtimePanels('sfu'),
    ],
  },
  recorder: {
    title: 'live-webrtc / Recorder and pipeline',
    panels: [
      { title: 'Active captures', expr: `sum by (instance) (lw_recorder_active_captures{${I}})`, unit: 'short' },
      {
        title: 'Free capture slots',
        expr: `sum by (instance) (lw_recorder_capture_capacity{${I}})`,
        unit: 'short',
        thresholds: [1, 5],
        invert: true,
      },
      {
        title: 'Capture capacity in use',
        expr: `sum(lw_recorder_active_captures{${I}}) / clamp_min(sum(lw_recorder_active_captures{${I}}) + sum(lw_recorder_capture_capacity{${I}}), 1)`,
        unit: 'percentunit',
        thresholds: [0.7, 0.9],
      },
      { title: 'Queue jobs by state', expr: `max by (queue, state) (lw_queue_jobs{${I}})`, unit: 'short' },
      { title: 'Oldest waiting job', expr: `max by (queue) (lw_queue_oldest_waiting_seconds{${I}})`, unit: 's', thresholds: [30, 120] },
      { title: 'Upload throughput', expr: `sum by (storage) (${rate('lw_storage_upload_bytes_total')})`, unit: 'Bps' },
      { title: 'Upload latency p95', expr: p95('lw_storage_upload_seconds', 'storage', 'outcome="ok"'), unit: 's', thresholds: [5, 20] },
      {
        title: 'Upload failures',
        expr: `sum(${rate('lw_storage_upload_failures_total')}) or vector(0)`,
        unit: 'ops',
        thresholds: [0.0001, 0.01],
      },
      {
        title: 'Segment uploads failed after retries',
        expr: `sum(${rate('lw_recorder_segment_upload_failures_total')}) or vector(0)`,
        unit: 'ops',
        thresholds: [0.0001, 0.01],
      },
      {
        title: 'Capture failures by code',
        expr: `sum by (code) (${rate('lw_recorder_capture_failures_total')}) or vector(0)`,
        unit: 'ops',
        thresholds: [0.0001, 0.01],
      },
      { title: 'Recording transitions by status', expr: `sum by (status) (${rate('lw_recording_transitions_total')})`, unit: 'ops' },
      { title: 'Recordings by status', expr: `max by (status) (lw_recordings{${I}})`, unit: 'short' },
      { title: 'First decodable frame p95', expr: p95('lw_recorder_first_frame_seconds'), unit: 's', thresholds: [3, 10] },
      { title: 'ffmpeg stop p95', expr: p95('lw_recorder_ffmpeg_stop_seconds'), unit: 's', thresholds: [5, 15] },
      { title: 'Finalize p95', expr: p95('lw_recorder_finalize_seconds'), unit: 's', thresholds: [10, 60] },
      { title: 'Stop to ready p95', expr: p95('lw_recorder_stop_to_ready_seconds'), unit: 's', thresholds: [15, 60] },
      // No transcode has run until the transcoding pipeline does: an explicit zero, not nothing.
      {
        title: 'Transcode duration p95 by output',
        expr: `${p95('lw_recorder_transcode_seconds', 'output')} or vector(0)`,
        unit: 's',
        thresholds: [60, 300],
      },
      ...runtimePanels('recorder'),
    ],
  },
};

function panel(p, id) {
  const x = ((id - 1) % 3) * 8;
  const y = Math.floor((id - 1) / 3) * 8;
  const green = p.invert ? 'red' : 'green';
  const red = p.invert ? 'green' : 'red';
  const steps = [{ color: green, value: null }];
  if (p.thresholds) {
    steps.push({ color: 'orange', value: p.thresholds[0] });
    steps.push({ color: red, value: p.thresholds[1] });
  }
  return {
    id,
    type: p.type ?? 'timeseries',
    title: p.title,
    datasource: { type: 'prometheus', uid: 'prometheus' },
    gridPos: { h: 8, w: 8, x, y },
    fieldConfig: {
      defaults: {
        unit: p.unit,
        thresholds: { mode: 'absolute', steps },
        ...(p.type === 'stat' ? {} : { custom: { thresholdsStyle: { mode: p.thresholds ? 'line' : 'off' } } }),
      },
      overrides: [],
    },
    targets: [{ refId: 'A', expr: p.expr, datasource: { type: 'prometheus', uid: 'prometheus' } }],
  };
}

function dashboard(uid, d) {
  return {
    uid: `live-webrtc-${uid}`,
    title: d.title,
    tags: ['live-webrtc'],
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        {
          name: 'instance',
          label: 'instance',
          type: 'query',
          datasource: { type: 'prometheus', uid: 'prometheus' },
          query: { query: 'label_values(up{job=~"live-webrtc-.*"}, instance)', refId: 'instance' },
          definition: 'label_values(up{job=~"live-webrtc-.*"}, instance)',
          refresh: 2,
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    panels: d.panels.map((p, i) => panel(p, i + 1)),
  };
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
for (const [uid, d] of Object.entries(dashboards)) {
  writeFileSync(join(out, `${uid}.json`), `${JSON.stringify(dashboard(uid, d), null, 2)}\n`);
}
console.log(
  `wrote ${Object.keys(dashboards).length} dashboards, ${Object.values(dashboards).reduce((n, d) => n + d.panels.length, 0)} panels`,
);

#!/usr/bin/env node
// The soak (#12): the product started as `npm start` starts it (scripts/launch.mjs: SFU,
// recorder, API, a private Redis) with real S3 (Ceph radosgw), light publishers in many rooms,
// WHEP viewers joining and leaving, recordings with transcoded outputs started and stopped,
// publishers leaving and rejoining, and every few minutes one injected fault (recorder SIGKILL,
// Redis restart, the S3 gateway stopped for 30 s). It prints per service RSS, heap, open fds and
// event-loop lag p99, the mediasoup workers' objects, and the recordings' fate, at the start,
// every few minutes and at the end; then every room closes and the idle counts must be back at
// their baseline.
//
//   npm run soak -- [--minutes 30] [--report-every 5] [--rooms 6] [--viewers 2] [--fault-every 4] [--json out.json] [--log-dir dir] [--faults 0,1,2]
//
// Exits 1 when a recording is lost (failed, or not final after the drain), when a series keeps
// growing (the median of the last third of the run above the middle third's by more than its
// allowance), or when a count is not back at its baseline.
import { readFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dirname } from 'node:path';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'report-every': { type: 'string', default: '5' },
    rooms: { type: 'string', default: '6' },
    viewers: { type: 'string', default: '2' },
    'fault-every': { type: 'string', default: '4' },
    json: { type: 'string' },
    'log-dir': { type: 'string' },
    // The faults' order, by index into FAULTS (0 recorder SIGKILL, 1 Redis restart, 2 S3 stopped).
    faults: { type: 'string', default: '0,1,2' },
  },
});
const MINUTES = Number(args.minutes);
const REPORT_EVERY_MS = Number(args['report-every']) * 60_000;
const FAULT_EVERY_MS = Number(args['fault-every']) * 60_000;
const SAMPLE_EVERY_MS = Math.min(60_000, REPORT_EVERY_MS);

const { startStack } = await import('../tests/dist/support/stack.js');
const { startCephS3 } = await import('../tests/dist/support/ceph-s3.js');
const { takeCensus, settleToBaseline, processTree } = await import('../tests/dist/support/census.js');
const { Churn } = await import('../tests/dist/support/churn.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => console.log(`# ${new Date().toISOString().slice(11, 19)} ${msg}`);

/** The stack's process running `needle` (a script path or a command name). */
async function findProcess(stack, needle) {
  for (const p of await processTree(stack.pid)) {
    const cmd = await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '');
    if (p.comm === needle || cmd.includes(needle)) return p.pid;
  }
  return null;
}

const FAULTS = [
  {
    name: 'recorder SIGKILL',
    async inject(stack) {
      const pid = await findProcess(stack, 'services/recorder/dist/main.js');
      if (!pid) return 'no recorder process found';
      process.kill(pid, 'SIGKILL'); // the launcher restarts it; another run takes the captures over
      return `pid ${pid}`;
    },
  },
  {
    name: 'Redis restart',
    async inject(stack) {
      const pid = await findProcess(stack, 'redis-server');
      if (!pid) return 'no redis-server found';
      process.kill(pid, 'SIGTERM'); // the launcher restarts it (append-only file kept)
      return `pid ${pid}`;
    },
  },
  {
    name: 'S3 gateway stopped 30 s',
    async inject(_stack, s3) {
      await s3.stopGateway();
      setTimeout(() => void s3.startGateway().catch((err) => log(`S3 gateway did not come back: ${err.message}`)), 30_000);
      return 'back in 30 s';
    },
  },
];

const fmt = (v, d = 0) => (v === undefined || v === null || Number.isNaN(v) ? '—' : Number(v).toFixed(d));

/** One table row from a census. */
function row(label, c, churn) {
  const s = c.services;
  const m = c.media;
  const live = churn.live;
  return {
    t: label,
    'sfu rss/heap MB': `${fmt(s.sfu?.rssMb)}/${fmt(s.sfu?.heapMb)}`,
    'sfu fds': fmt(s.sfu?.fds),
    'sfu lag p99 ms': fmt(s.sfu?.lagP99Ms, 1),
    'rec rss/heap MB': `${fmt(s.recorder?.rssMb)}/${fmt(s.recorder?.heapMb)}`,
    'rec fds': fmt(s.recorder?.fds),
    'rec lag p99 ms': fmt(s.recorder?.lagP99Ms, 1),
    'api rss/heap MB': `${fmt(s.api?.rssMb)}/${fmt(s.api?.heapMb)}`,
    'api fds': fmt(s.api?.fds),
    'api lag p99 ms': fmt(s.api?.lagP99Ms, 1),
    'worker rss MB': fmt(m?.workerRssMb),
    'rooms/routers/transports/producers/consumers': m ? `${m.rooms}/${m.routers}/${m.transports}/${m.producers}/${m.consumers}` : '—',
    'udp/ffmpeg/work files': `${c.idle.udpSockets}/${c.idle.ffmpeg}/${c.idle.workFiles}`,
    'pubs/viewers/recording': `${live.publishers}/${live.viewers}/${live.recording}`,
  };
}

function markdown(rows) {
  const cols = Object.keys(rows[0]);
  return [
    `| ${cols.join(' | ')} |`,
    `|${cols.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`),
  ].join('\n');
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/**
 * Series that keep growing: the median of the run's last third against its middle third (the
 * first third is warm-up: caches, JIT, pools filling). Allowances: memory 15 % and 20 MB, fds 25.
 */
function growth(samples) {
  const series = {};
  for (const c of samples) {
    for (const [svc, s] of Object.entries(c.services)) {
      if (!s) continue;
      for (const k of ['rssMb', 'heapMb', 'fds']) (series[`${svc} ${k}`] ??= []).push(s[k]);
    }
    if (c.media) (series['mediasoup worker rssMb'] ??= []).push(c.media.workerRssMb);
  }
  const out = [];
  for (const [name, xs] of Object.entries(series)) {
    if (xs.length < 6) continue;
    const third = Math.floor(xs.length / 3);
    const mid = median(xs.slice(third, 2 * third));
    const last = median(xs.slice(2 * third));
    const allowance = name.endsWith('fds') ? 25 : Math.max(20, mid * 0.15);
    out.push({
      series: name,
      middleThird: +mid.toFixed(1),
      lastThird: +last.toFixed(1),
      growth: +(last - mid).toFixed(1),
      allowance: +allowance.toFixed(1),
      levelsOff: last - mid <= allowance,
    });
  }
  return out;
}

const s3 = await startCephS3();
const stack = await startStack({
  S3_ENDPOINT: s3.endpoint,
  S3_BUCKET: 'soak',
  S3_ACCESS_KEY: s3.accessKey,
  S3_SECRET_KEY: s3.secretKey,
  S3_REGION: s3.region,
  S3_USE_SSL: '0',
  S3_PATH_STYLE: '1',
  // Transcoded outputs on, the cheap ones: this is a shared 2-core machine.
  TRANSCODE_OUTPUTS: 'poster,mp4',
  SEGMENT_SECONDS: '2',
  RECORD_REJOIN_GRACE_SECONDS: '15',
  LOG_LEVEL: 'warn',
});
let exitCode = 0;
const rows = [];
const samples = [];
const faults = [];
const churn = new Churn(stack, {
  rooms: Number(args.rooms),
  maxViewers: Number(args.viewers),
  minRecordingS: 20,
  absenceS: 4,
  prefix: 'soak-',
});
try {
  await sleep(3000);
  const base = await takeCensus(stack);
  rows.push(row('idle', base, churn));
  log(`baseline ${JSON.stringify(base.idle)}`);
  await churn.start();
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  let nextSample = t0;
  let nextReport = t0;
  let nextFault = t0 + Math.min(FAULT_EVERY_MS, 2 * 60_000);
  let nextPoll = t0;
  let faultIndex = 0;
  // No fault in the last minutes: recordings started then should end as they normally do.
  const quietTailMs = Math.min(3 * 60_000, MINUTES * 60_000 * 0.25);
  while (Date.now() < end) {
    await churn.step();
    const now = Date.now();
    if (now >= nextPoll) {
      await churn.poll();
      nextPoll = now + 5000;
    }
    if (now >= nextSample) {
      const c = await takeCensus(stack);
      samples.push(c);
      if (now >= nextReport) {
        const r = row(`${Math.round((now - t0) / 60_000)} min`, c, churn);
        rows.push(r);
        log(`${JSON.stringify(r)} recordings ${JSON.stringify({ ...churn.summary(), errors: undefined })}`);
        nextReport += REPORT_EVERY_MS;
      }
      nextSample += SAMPLE_EVERY_MS;
    }
    if (now >= nextFault && now < end - quietTailMs) {
      const order = args.faults.split(',').map(Number);
      const f = FAULTS[order[faultIndex++ % order.length]];
      const note = await f.inject(stack, s3).catch((err) => `failed: ${err.message}`);
      faults.push({ at: new Date().toISOString(), fault: f.name, note });
      log(`fault: ${f.name} (${note})`);
      nextFault = now + FAULT_EVERY_MS;
    }
    await sleep(2000);
  }
  const loaded = await takeCensus(stack);
  rows.push(row(`${MINUTES} min (end of load)`, loaded, churn));
  log('draining: stopping recordings, closing every session');
  await churn.drain(10 * 60_000);
  log(`drained: ${JSON.stringify({ ...churn.summary(), errors: undefined })}`);
  const { diff, last } = await settleToBaseline(stack, base.idle, 90_000);
  rows.push(row('after drain', last, churn));
  const summary = churn.summary();
  const lost = [...churn.recordings.values()].filter((t) => t.status !== 'ready');
  const g = growth(samples);
  console.log('\n## soak table\n');
  console.log(markdown(rows));
  console.log('\n## recordings\n');
  console.log(JSON.stringify({ ...summary, errors: undefined }));
  for (const t of lost) console.log(`LOST ${t.id} (${t.room}): ${t.status} ${JSON.stringify(t.error)}`);
  // The recordings that lost most, and every failed output, to look up in the services' log.
  const worst = [...churn.recordings.values()].filter((t) => (t.lostS ?? 0) > 0).sort((a, b) => b.lostS - a.lostS);
  for (const t of worst.slice(0, 5)) console.log(`most lost: ${t.id} (${t.room}) ${t.lostS.toFixed(2)} s`);
  for (const t of churn.recordings.values()) for (const o of t.failedOutputs) console.log(`output failed: ${t.id} (${t.room}) ${o}`);
  console.log('\n## faults\n');
  for (const f of faults) console.log(`- ${f.at} ${f.fault} (${f.note})`);
  console.log('\n## growth (median of the last third vs the middle third of the run)\n');
  console.table(g);
  console.log('\n## back to baseline\n');
  console.log(`before: ${JSON.stringify(base.idle)}`);
  console.log(`after:  ${JSON.stringify(last.idle)}`);
  console.log(diff.length ? `NOT back at baseline: ${diff.join('; ')}` : 'every count back at its baseline');
  if (summary.errors.length) console.log(`\nlast errors:\n${summary.errors.join('\n')}`);
  const growing = g.filter((x) => !x.levelsOff);
  if (lost.length > 0 || growing.length > 0 || diff.length > 0) exitCode = 1;
  console.log(
    `\nsoak ${exitCode === 0 ? 'PASSED' : 'FAILED'}: ${MINUTES} min, ${summary.recordingsStarted} recordings (${summary.ready} ready, ${lost.length} lost), ` +
      `${faults.length} faults, ${growing.length} growing series, ${diff.length} counts off baseline`,
  );
  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(
      args.json,
      JSON.stringify(
        { minutes: MINUTES, rows, samples, summary, lost, faults, growth: g, baseline: { before: base.idle, after: last.idle, diff } },
        null,
        2,
      ),
    );
  }
} catch (err) {
  console.error(err);
  console.error(stack.logs.slice(-40).join('\n'));
  exitCode = 1;
} finally {
  // The services' last log lines (the launcher keeps 2,000), for a look at what failed.
  if (args['log-dir']) {
    try {
      mkdirSync(args['log-dir'], { recursive: true });
      writeFileSync(`${args['log-dir']}/soak-services.log`, stack.logs.join('\n') + '\n');
    } catch (err) {
      console.error(`could not write the services' log: ${err}`); // the stack must still be stopped
    }
  }
  await stack.stop();
  await s3.stop();
  // Closing many wrtc peer connections can crash libwebrtc at exit: leave the rest to the OS.
  process.exit(exitCode);
}

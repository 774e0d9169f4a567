#!/usr/bin/env node
// Transcode benchmark: the recorder's own ffmpeg invocations (services/recorder/dist/transcode/
// args.js) on a reference clip, 720p30 test pattern + tone, made once with lavfi:
//   - MP4 re-encode of a VP8 + Opus raw (x264 veryfast CRF 23 without B-frames, as for browser
//     publishers), and the same with x264's stock veryfast (3 B-frames, 10-frame lookahead),
//   - MP4 remux of an H.264 + Opus raw (video copied, as for OBS), audio to AAC (default) or
//     Opus copied (TRANSCODE_MP4_AUDIO=opus),
//   - the HLS ladder (720p + 360p from a 720p source), the poster and the sprite.
// Prints wall time, CPU time (user + sys of the ffmpeg child, from bash's `times`), × realtime
// per core (= clip length / CPU seconds: what one core sustains, the figure that holds on a
// shared machine) and × realtime on the wall clock, output sizes, and the SSIM of each mp4
// against the decoded raw (quality check of the cheaper settings).
// Transcodes run at normal priority here (the product nices them); a shared machine makes
// the wall figures noisy, the CPU figures less so: run it a few times.
//
//   node bench/transcode.mjs [clipSeconds=30] [repeats=3]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { mp4Args, hlsArgs, hlsLadder, posterArgs, spriteArgs, spritePlan } = await import('../services/recorder/dist/transcode/args.js');
const { toArgv } = await import('../services/recorder/dist/ffmpeg/args.js');
const { probeSource } = await import('../services/recorder/dist/transcode/source.js');

const [clipS = 30, repeats = 3] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'lw-bench-transcode-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Runs a command through bash so `times` reports the CPU its children used. */
function timed(cmd, args) {
  const quoted = [cmd, ...args].map((a) => `'${String(a).replace(/'/g, "'\\''")}'`).join(' ');
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', `${quoted} >/dev/null 2>&1 || exit 1; times`], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  // `times`: shell user/sys, then children user/sys ("0m1.234s 0m0.100s").
  const lines = r.stdout.trim().split('\n');
  const [u, s] = lines[lines.length - 1].split(/\s+/).map((x) => {
    const m = /(\d+)m([\d.]+)s/.exec(x);
    return Number(m[1]) * 60 + Number(m[2]);
  });
  return { wall, cpu: u + s };
}

/** SSIM (all planes) of `out`'s video against `ref`'s. */
function ssim(out, ref) {
  const r = spawnSync('nice', ['-n', '5', 'ffmpeg', '-hide_banner', '-i', out, '-i', ref, '-lavfi', '[0:v][1:v]ssim', '-f', 'null', '-'], {
    encoding: 'utf8',
  });
  return /All:([\d.]+)/.exec(r.stderr)?.[1] ?? '?';
}

const size = (p) => {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((a, f) => a + statSync(join(p, f)).size, 0);
};

console.log(`# making the ${clipS} s 720p30 reference clips…`);
const lavfi = ['-f', 'lavfi', '-i', `testsrc2=s=1280x720:r=30:d=${clipS}`, '-f', 'lavfi', '-i', `sine=f=440:d=${clipS}:sample_rate=48000`];
const vp8 = join(dir, 'raw.webm');
const h264 = join(dir, 'raw.mkv');
// Bitrates close to what browsers send at 720p (VP8 ~2.5 Mbit/s) and OBS (H.264 ~4 Mbit/s).
// prettier-ignore
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...lavfi, '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2500k', '-g', '90', '-c:a', 'libopus', '-b:a', '64k', vp8]);
// prettier-ignore
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...lavfi, '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '4000k', '-g', '60', '-c:a', 'libopus', '-b:a', '64k', h264]);

const vp8Src = await probeSource(vp8, 'ffprobe');
const h264Src = await probeSource(h264, 'ffprobe');
/** The invocation with x264's stock veryfast: our -bf 0 -rc-lookahead 5 taken out. */
const stockVeryfast = (inv) => {
  const o = [...inv.outputOptions];
  for (const flag of ['-bf', '-rc-lookahead']) o.splice(o.indexOf(flag), 2);
  return { ...inv, outputOptions: o };
};
const cases = [
  {
    name: 'mp4 re-encode (VP8 → H.264)',
    inv: () => mp4Args(vp8Src, { input: vp8, output: join(dir, 'reencode.mp4') }),
    out: 'reencode.mp4',
    ssim: vp8,
  },
  {
    name: 'mp4 re-encode, x264 stock veryfast (3 B-frames)',
    inv: () => stockVeryfast(mp4Args(vp8Src, { input: vp8, output: join(dir, 'stock.mp4') })),
    out: 'stock.mp4',
    ssim: vp8,
  },
  {
    name: 'mp4 re-encode, TRANSCODE_PRESET=superfast',
    inv: () => mp4Args(vp8Src, { input: vp8, output: join(dir, 'superfast.mp4'), preset: 'superfast' }),
    out: 'superfast.mp4',
    ssim: vp8,
  },
  {
    name: 'mp4 re-encode, TRANSCODE_PRESET=ultrafast',
    inv: () => mp4Args(vp8Src, { input: vp8, output: join(dir, 'ultrafast.mp4'), preset: 'ultrafast' }),
    out: 'ultrafast.mp4',
    ssim: vp8,
  },
  {
    name: 'mp4 remux (H.264 copied, Opus → AAC)',
    inv: () => mp4Args(h264Src, { input: h264, output: join(dir, 'remux.mp4') }),
    out: 'remux.mp4',
  },
  {
    name: 'mp4 remux, TRANSCODE_MP4_AUDIO=opus (both copied)',
    inv: () => mp4Args(h264Src, { input: h264, output: join(dir, 'remux-opus.mp4'), mp4Audio: 'opus' }),
    out: 'remux-opus.mp4',
  },
  {
    name: 'ffprobe of the raw (once per job)',
    cmd: 'ffprobe',
    inv: () => ({ argv: ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', vp8] }),
    out: null,
  },
  {
    name: 'hls ladder 720p+360p',
    inv: () => hlsArgs(vp8Src, hlsLadder(1280, 720), { input: vp8, dir: join(dir, 'hls') }),
    out: 'hls',
    before: () => {
      rmSync(join(dir, 'hls'), { recursive: true, force: true });
      execFileSync('mkdir', ['-p', join(dir, 'hls')]);
    },
  },
  { name: 'poster', inv: () => posterArgs(vp8Src, { input: vp8, output: join(dir, 'poster.jpg') }), out: 'poster.jpg' },
  {
    name: 'sprite',
    inv: () => spriteArgs(vp8Src, spritePlan(vp8Src.durationS, 1280, 720), { input: vp8, output: join(dir, 'sprite.jpg') }),
    out: 'sprite.jpg',
  },
];

console.log(
  `# raw sizes: VP8 ${size(vp8)} B, H.264 ${size(h264)} B; ${repeats} run(s) each; load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('| output | wall s (runs) | CPU s (runs) | × realtime per core (median) | × realtime wall (median) | size | SSIM vs raw |');
console.log('|---|---|---|---|---|---|---|');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const c of cases) {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    c.before?.();
    const inv = c.inv();
    runs.push(timed(c.cmd ?? 'ffmpeg', inv.argv ?? toArgv(inv)));
  }
  const perCore = median(runs.map((r) => clipS / r.cpu));
  const wallX = median(runs.map((r) => clipS / r.wall));
  const quality = c.ssim ? ssim(join(dir, c.out), c.ssim) : '';
  console.log(
    `| ${c.name} | ${runs.map((r) => r.wall.toFixed(2)).join(', ')} | ${runs.map((r) => r.cpu.toFixed(2)).join(', ')} | ${perCore.toFixed(1)}× | ${wallX.toFixed(1)}× | ${c.out ? `${size(join(dir, c.out))} B` : ''} | ${quality} |`,
  );
}

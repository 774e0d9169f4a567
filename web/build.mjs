// Bundles the web app with esbuild into dist/public/: hashed assets under assets/ (served with a
// year-long immutable cache), index.html naming them (served no-cache), and the embeddable player
// also at the stable address embed/player.js (what other sites put in their <script> tag).
// Run by `npm run build -w web`, which scripts/lib.sh's ensure_build calls after `tsc -b`.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, 'dist/public');

await rm(OUT, { recursive: true, force: true });
const common = {
  absWorkingDir: HERE,
  outdir: join(OUT, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
};
// The app: hls.js is split into its own chunk, loaded only when a recording is played over HLS.
const app = await build({
  ...common,
  entryPoints: { app: 'src/main.ts', style: 'src/style.css' },
  chunkNames: 'chunk-[name]-[hash]',
  splitting: true,
});
// The embeddable player: one self-contained file (it is also copied to a stable address).
const player = await build({ ...common, entryPoints: { player: 'src/embed.ts' } });
const result = { metafile: { outputs: { ...app.metafile.outputs, ...player.metafile.outputs } } };

/** Output path (relative to dist/public) of an entry point. */
const outputOf = (entry) => {
  for (const [path, o] of Object.entries(result.metafile.outputs)) {
    if (o.entryPoint === entry && !path.endsWith('.map')) return relative(OUT, join(HERE, path));
  }
  throw new Error(`esbuild produced no output for ${entry}`);
};
const assets = { app: outputOf('src/main.ts'), style: outputOf('src/style.css'), player: outputOf('src/embed.ts') };

const html = (await readFile(join(HERE, 'src/index.html'), 'utf8'))
  .replace('{{app.js}}', `/${assets.app}`)
  .replace('{{style.css}}', `/${assets.style}`);
if (/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/i.test(html)) throw new Error('index.html must not contain inline script or style (CSP)');
await writeFile(join(OUT, 'index.html'), html);
await mkdir(join(OUT, 'embed'), { recursive: true });
await copyFile(join(OUT, assets.player), join(OUT, 'embed/player.js'));
await writeFile(join(OUT, 'manifest.json'), JSON.stringify(assets, null, 2) + '\n');

// Sizes, raw and gzip, of what a first visit downloads (HTML, app, style) and of the rest.
const size = async (p) => {
  const b = await readFile(join(OUT, p));
  return `${(b.length / 1024).toFixed(1)} KiB (gzip ${(gzipSync(b).length / 1024).toFixed(1)} KiB)`;
};
const lines = [`web: index.html ${await size('index.html')}`];
for (const [path] of Object.entries(result.metafile.outputs)) {
  if (path.endsWith('.map') || path.endsWith('.txt')) continue;
  const p = relative(OUT, join(HERE, path));
  lines.push(`web: ${p} ${await size(p)}`);
}
if (!process.env['QUIET']) console.log(lines.join('\n'));

// No orphaned ffmpeg: each capture run writes its ffmpeg's pid (and its recorder's id) next to
// its segments, and a recorder starting up ends every ffmpeg a dead recorder's run left behind
// (a recorder killed with SIGKILL cannot take its children with it). Runs of recorders still
// heartbeating (several recorders may share a work directory) are left alone, and a pid is only
// signalled when /proc says it still is an ffmpeg writing into that very directory, so a
// reused pid is never hit.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const pidFile = (dir: string, run: number): string => join(dir, `run-${run}.pid`);

export async function rememberPid(dir: string, run: number, pid: number, recorderId: string): Promise<void> {
  await writeFile(pidFile(dir, run), `${pid} ${recorderId}`);
}

export async function forgetPid(dir: string, run: number): Promise<void> {
  await rm(pidFile(dir, run), { force: true });
}

/** True when `pid` is a live ffmpeg whose command line names `dir`. */
async function isOurFfmpeg(pid: number, dir: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return /ffmpeg/.test(cmdline[0] ?? '') && cmdline.some((a) => a.startsWith(dir));
  } catch {
    return false;
  }
}

/** Ends every ffmpeg left by dead recorders' runs under `workDir`; returns the pids it killed. */
export async function killLeftoverFfmpeg(workDir: string, isAlive: (recorderId: string) => Promise<boolean>): Promise<number[]> {
  const killed: number[] = [];
  const recordings = await readdir(workDir).catch(() => [] as string[]);
  for (const rec of recordings) {
    const dir = join(workDir, rec);
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const f of files.filter((n) => /^run-\d+\.pid$/.test(n))) {
      const [pidText, owner = ''] = (await readFile(join(dir, f), 'utf8').catch(() => '')).split(' ');
      const pid = Number(pidText);
      if (owner && (await isAlive(owner).catch(() => true))) continue; // a live recorder's run
      if (Number.isInteger(pid) && pid > 1 && (await isOurFfmpeg(pid, dir))) {
        try {
          process.kill(pid, 'SIGKILL');
          killed.push(pid);
        } catch {
          // gone meanwhile
        }
      }
      await rm(join(dir, f), { force: true });
    }
  }
  return killed;
}

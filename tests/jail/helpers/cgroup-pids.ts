// Host pids in a jail's cgroup, read from the cgroup.procs files RunOptions.onStart reports.
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function pidsOf(procsFiles: readonly string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const file of procsFiles) {
    // A group that no longer exists holds no processes (a parallel suite's JailHost.open may sweep it).
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    for (const line of text.split('\n').filter(Boolean)) pids.add(Number(line));
  }
  return [...pids];
}

export async function waitForPids(procsFiles: () => readonly string[], atLeast: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await pidsOf(procsFiles()).catch(() => []);
    if (pids.length >= atLeast) return pids;
    if (Date.now() > deadline) throw new Error(`cgroup never held ${atLeast} processes`);
    await sleep(20);
  }
}

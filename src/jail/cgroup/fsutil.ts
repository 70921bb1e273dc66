import { readFile, writeFile, rmdir, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

export async function writeText(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/** Reads `key value` lines (memory.events, pids.events, cpu.stat, memory.oom_control). */
export async function readKeyed(path: string): Promise<Map<string, number>> {
  const text = (await readText(path)) ?? '';
  const entries = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) entries.set(key, Number(value));
  }
  return entries;
}

export async function readNumber(path: string): Promise<number | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : undefined;
}

export async function pidsIn(procsFile: string): Promise<number[]> {
  const text = (await readText(procsFile)) ?? '';
  return text.split('\n').filter(Boolean).map(Number);
}

/** Entry names of a directory; none when it does not exist yet (other errors propagate). */
export async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

export async function listDirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

/** rmdir of a cgroup fails with EBUSY while a dying process is still attached; retry briefly. */
export async function removeCgroupDir(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      if (!isErrno(error, 'EBUSY') || Date.now() > deadline) throw error;
      await sleep(2);
    }
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

export async function killPids(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) throw error;
    }
  }
}

/** Polls until every listed cgroup.procs file is empty; true if that happened within `timeoutMs`. */
export async function waitEmpty(procsFiles: readonly string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const members = await Promise.all(procsFiles.map((file) => pidsIn(file)));
    if (members.every((pids) => pids.length === 0)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(1);
  }
}

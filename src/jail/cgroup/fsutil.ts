// cgroup file access. Reads and writes are synchronous on purpose: cgroupfs is an in-memory pseudo-
// filesystem whose files answer in microseconds, while each asynchronous call is a round trip through
// libuv's thread pool (a run makes ~30; measured async, they were about half of node's CPU per jail).
// Creating and removing a group stays asynchronous: on cgroup v1 mkdir and rmdir wait inside the kernel
// (~0.8 and ~0.6 ms per run measured with --cpu-prof), which would stall the event loop.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

export function writeText(path: string, value: string): void {
  writeFileSync(path, value);
}

export async function makeDir(path: string): Promise<void> {
  await mkdir(path);
}

/** For the service's own hierarchy roots, made once. */
export function makeDirTree(path: string): void {
  mkdirSync(path, { recursive: true });
}

/** Reads `key value` lines (memory.events, pids.events, cpu.stat, memory.oom_control). */
export function readKeyed(path: string): Map<string, number> {
  const text = readText(path) ?? '';
  const entries = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) entries.set(key, Number(value));
  }
  return entries;
}

export function readNumber(path: string): number | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : undefined;
}

export function pidsIn(procsFile: string): number[] {
  const text = readText(procsFile) ?? '';
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

export function listDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
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

export function killPids(pids: number[]): void {
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
    if (procsFiles.every((file) => pidsIn(file).length === 0)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(1);
  }
}

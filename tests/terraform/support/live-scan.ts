// Watches a Terraform egress run from the host while it is live (issue 11): every process on the machine
// is read (/proc/<pid>/environ and cmdline) for the planted secrets; the egress jail's own processes (those
// with AWS_ENDPOINT_URL=http://127.0.0.1:..., in the test's uid range) are recorded with their network
// namespace, and their workspace (cwd) and /tmp are read through /proc/<pid>/cwd and /proc/<pid>/root,
// i.e. as the jail sees them; the door is any other process in that namespace. The proxy sockets this
// process listens on are recorded too, so a test can check afterwards that nothing of it is left.
import { existsSync, type Dirent } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface JailProcess {
  pid: number;
  uid: number;
  argv0: string;
  netns: string;
  environ: string;
}

export interface Leak {
  where: string;
  needle: number;
}

export interface ScanReport {
  /** Egress jail processes seen while live (first sighting of each pid). */
  jailProcesses: JailProcess[];
  /** Other processes that were in a jail's network namespace: the door. */
  doorPids: number[];
  /** Network namespaces the egress jails joined. */
  netns: string[];
  /** Unix socket paths this process listened on that appeared during the run (the proxies). */
  proxySockets: string[];
  /** Files read in the jails' workspaces and /tmp. */
  filesRead: string[];
  /** Every place a needle was found (index into the needles). */
  leaks: Leak[];
  /** Processes of the test's uids whose environ could not be read (a blind spot: must stay empty). */
  unreadable: number[];
  /** Whole /proc passes made. */
  passes: number;
}

const FILE_MAX_BYTES = 4 * 1024 * 1024;
const FILES_MAX = 2000;

export interface Scanner {
  stop(): Promise<ScanReport>;
}

export async function startScanner(needles: readonly string[], uids: ReadonlySet<number>, intervalMs = 40): Promise<Scanner> {
  const before = new Set(await ownUnixSockets());
  const report: ScanReport = { jailProcesses: [], doorPids: [], netns: [], proxySockets: [], filesRead: [], leaks: [], unreadable: [], passes: 0 };
  const walked = new Set<number>();
  let stopped = false;
  const check = (text: string, where: string): void => {
    needles.forEach((needle, index) => {
      if (text.includes(needle) && !report.leaks.some((leak) => leak.where === where && leak.needle === index)) report.leaks.push({ where, needle: index });
    });
  };
  const pass = async (): Promise<void> => {
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
    const seen: { pid: number; netns: string; jail: boolean }[] = [];
    for (const pid of pids) {
      const proc = await readProcess(pid);
      if (proc === undefined) continue; // it ended between readdir and read
      if (proc.unreadable) {
        // Kernel threads and the machine's own init refuse even root; a jail process must never.
        if (uids.has(proc.uid) && !report.unreadable.includes(pid)) report.unreadable.push(pid);
        continue;
      }
      check(proc.environ, `/proc/${pid}/environ`);
      check(proc.cmdline, `/proc/${pid}/cmdline`);
      const jail = uids.has(proc.uid) && proc.environ.split('\0').some((entry) => entry.startsWith('AWS_ENDPOINT_URL=http://127.0.0.1:'));
      seen.push({ pid, netns: proc.netns, jail });
      if (!jail) continue;
      if (!report.jailProcesses.some((p) => p.pid === pid)) report.jailProcesses.push({ pid, uid: proc.uid, argv0: proc.cmdline.split('\0')[0] ?? '', netns: proc.netns, environ: proc.environ });
      if (!report.netns.includes(proc.netns)) report.netns.push(proc.netns);
      if (!walked.has(pid)) {
        walked.add(pid);
        // The workspace and the jail's /tmp as the jail sees them, read while terraform runs in them.
        for (const dir of [`/proc/${pid}/cwd`, `/proc/${pid}/root/tmp`]) await walk(dir, report, check);
      }
    }
    for (const { pid, netns, jail } of seen) {
      if (!jail && report.netns.includes(netns) && !report.doorPids.includes(pid)) report.doorPids.push(pid);
    }
    for (const path of await ownUnixSockets()) if (!before.has(path) && !report.proxySockets.includes(path)) report.proxySockets.push(path);
    report.passes += 1;
  };
  const loop = (async () => {
    while (!stopped) {
      await pass();
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return report;
    },
  };
}

interface ProcessView {
  uid: number;
  environ: string;
  cmdline: string;
  netns: string;
  unreadable: boolean;
}

async function readProcess(pid: number): Promise<ProcessView | undefined> {
  let uid = -1;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const [environ, cmdline, netns] = await Promise.all([readFile(`/proc/${pid}/environ`, 'latin1'), readFile(`/proc/${pid}/cmdline`, 'latin1'), readlink(`/proc/${pid}/ns/net`)]);
    return { uid, environ, cmdline, netns, unreadable: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    if (code === 'EACCES' && uid !== -1) return { uid, environ: '', cmdline: '', netns: '', unreadable: true };
    throw error;
  }
}

/** Regular files under `dir` (no symlinks followed: the provider mirror is not the run's), bounded. */
async function walk(dir: string, report: ScanReport, check: (text: string, where: string) => void): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'ENOTDIR') return; // the process ended meanwhile
    throw error;
  }
  for (const entry of entries) {
    if (report.filesRead.length >= FILES_MAX) return;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, report, check);
    else if (entry.isFile()) {
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined || info.size > FILE_MAX_BYTES) continue;
      const text = await readFile(path, 'latin1').catch(() => undefined);
      if (text === undefined) continue;
      report.filesRead.push(path);
      check(text, path);
    }
  }
}

/** Paths of the unix sockets this process has open (the egress proxies listen in this process). */
export async function ownUnixSockets(): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const paths: string[] = [];
  for (const line of (await readFile('/proc/net/unix', 'utf8')).split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 8 && inodes.has(fields[6]!) && fields[7]!.startsWith('/')) paths.push(fields[7]!);
  }
  return paths;
}

/** What a finished run may have left: live processes of the door or the jails, their namespaces, sockets. */
export async function leftovers(report: ScanReport, uids: ReadonlySet<number>): Promise<string[]> {
  const left: string[] = [];
  for (const pid of report.doorPids) if (existsSync(`/proc/${pid}`)) left.push(`door process ${pid}`);
  const netns = new Set(report.netns);
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const proc = await readProcess(Number(name));
    if (proc === undefined) continue;
    if (proc.unreadable && uids.has(proc.uid)) left.push(`process ${name} of jail uid ${proc.uid} (unreadable)`);
    if (netns.has(proc.netns)) left.push(`process ${name} still in the run's network namespace ${proc.netns}`);
    if (uids.has(proc.uid)) left.push(`process ${name} of jail uid ${proc.uid}`);
  }
  // A namespace kept alive by a bind mount (a holder file) shows as an nsfs mount of that inode.
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  for (const ns of netns) if (mountinfo.includes(ns)) left.push(`a mount still holds ${ns}`);
  const sockets = new Set(await ownUnixSockets());
  for (const path of report.proxySockets) {
    if (sockets.has(path)) left.push(`proxy socket ${path} still open`);
    if (existsSync(path)) left.push(`proxy socket file ${path}`);
  }
  return left;
}

// Runs `confine serve` (the built service, as the container runs it) under `strace -f` while the workload
// drives it over HTTP, and returns every syscall name any process of the tree made: the service, its jail
// agent, launchers, bubblewrap, terraform and its providers, the analysis jail's node and the jailed
// shell programs. Only names are kept (`-e trace=all -s 0`); a failed call counts too, because a call the
// container's profile denied instead would change what the program does next.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeAws } from '../tests/egress/fake-aws.js';
import { REAL } from '../tests/egress/support.js';
import { runWorkload, type WorkloadStep } from './workload.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEY = 'profile-key-0123456789abcdef';

export interface Trace {
  syscalls: ReadonlySet<string>;
  steps: readonly WorkloadStep[];
  /** Processes the trace saw (each line carries its pid). */
  processes: number;
  /** Address families of every socket(2)/socketpair(2) (AF_UNIX, AF_INET...), for RestrictAddressFamilies=. */
  families: ReadonlySet<string>;
}

/** `PID name(` or `PID <... name resumed>`: strace -f's line prefixes. Signals and exits are skipped. */
const CALL = /^(\d+)\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)(?:\(| resumed>)/;

/** The first argument of socket(2) and socketpair(2), printed symbolically even with `-s 0`. */
const SOCKET = /\s(?:socket|socketpair)\((AF_[A-Z0-9]+)/;

export function parseTrace(text: string): { syscalls: Set<string>; pids: Set<number>; families: Set<string> } {
  const syscalls = new Set<string>();
  const pids = new Set<number>();
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    const match = CALL.exec(line);
    if (!match) continue;
    pids.add(Number(match[1]));
    syscalls.add(match[2]!);
    const family = SOCKET.exec(line);
    if (family) families.add(family[1]!);
  }
  return { syscalls, pids, families };
}

function waitForListening(output: () => string, exited: () => boolean, timeoutMs: number): Promise<string> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const match = /listening on (http:\/\/[0-9.]+:\d+)/.exec(output());
      if (match) return resolve(match[1]!);
      if (exited()) return reject(new Error(`confine serve exited before listening:\n${output()}`));
      if (Date.now() - started > timeoutMs) return reject(new Error(`confine serve did not listen within ${timeoutMs} ms:\n${output()}`));
      setTimeout(poll, 100);
    };
    poll();
  });
}

export interface TraceOptions {
  /** A host uid range no other user of this machine's state directory leases. */
  uidBase: number;
  stateDir: string;
}

export async function traceService(options: TraceOptions): Promise<Trace> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-seccomp-'));
  const traceFile = join(dir, 'trace');
  // Terraform egress (issue 11) is part of the service: the door (a user + network namespace, the launcher's
  // setns, its namespace passed over SCM_RIGHTS) and the signing proxy, against the tests' SigV4-verifying
  // fake AWS on loopback.
  const fakeAws = await startFakeAws(REAL);
  try {
    const env = {
      TF_EGRESS: 'aws',
      TF_EGRESS_UPSTREAM_URL: fakeAws.url,
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      CONFINE_STATE_DIR: options.stateDir,
      CONFINE_UID_BASE: String(options.uidBase),
      CONFINE_UID_COUNT: '32',
      ARTIFACTS_DIR: join(dir, 'artifacts'),
      API_KEYS: `profile:${KEY}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_SECONDS: '5',
    };
    // -qq: no attach/exit chatter; -s 0: no string contents (tenant data stays out of the trace file).
    const child = spawn('strace', ['-f', '-qq', '-s', '0', '-e', 'trace=all', '-e', 'signal=none', '-o', traceFile,
      process.execPath, join(ROOT, 'dist/cli/main.js'), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let exited = false;
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const done = new Promise<number | null>((resolve) => child.once('exit', (code) => { exited = true; resolve(code); }));
    let steps: WorkloadStep[] = [];
    try {
      const base = await waitForListening(() => output, () => exited, 60_000);
      steps = await runWorkload(base, KEY, REAL);
    } finally {
      // SIGTERM to the service itself (strace's first traced pid), so its shutdown path is traced too.
      const first = /^(\d+)\s/.exec(await readFile(traceFile, 'utf8').catch(() => ''));
      if (first && !exited) process.kill(Number(first[1]), 'SIGTERM');
      else if (!exited) child.kill('SIGTERM');
      const code = await Promise.race([done, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 60_000))]);
      if (code === 'late') {
        child.kill('SIGKILL');
        throw new Error(`the traced service did not stop within 60 s:\n${output}`);
      }
    }
    const parsed = parseTrace(await readFile(traceFile, 'utf8'));
    return { syscalls: parsed.syscalls, steps, processes: parsed.pids.size, families: parsed.families };
  } finally {
    await fakeAws.close();
    await rm(dir, { recursive: true, force: true });
  }
}

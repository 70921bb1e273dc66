// Jail spawn-to-exit for /bin/true-like work, three ways, interleaved in one run:
//   engine      — JailHost.run with the shell profile (fresh tmpfs workspace, cgroup, rlimits, uid, bwrap),
//                 with default config, with workspacePool=2, with workspacePool=2 + launcherPool=2, and
//                 with both pools + asyncCleanup (result returned once the jail is gone; unmount and cgroup
//                 removal finish in the background). Pooled hosts refill untimed (`await host.ready()`):
//                 those figures are for a service that has idle moments between requests.
//   bare bwrap  — bubblewrap alone with the same argv (namespaces, binds, seccomp fd), as the same
//                 unprivileged uid, into a pre-made directory: no workspace mount, no cgroup, no rlimits
//   unsandboxed — spawning the program directly
// Run as root: `npm run bench:jail` or `npx vite-node bench/jail-spawn.ts [runs]` (vite-node runs the
// TypeScript directly, no build step; it is vitest's own runner, already installed).
import { spawn, type StdioOptions } from 'node:child_process';
import { mkdirSync, rmSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { bwrapArgs } from '../src/jail/bwrap-args.js';
import { JailHost } from '../src/jail/host.js';
import { DEFAULT_LIMITS } from '../src/jail/limits.js';
import { buildShellProfile, shellSpec } from '../src/jail/profiles/shell.js';

const runs = Number(process.argv[2] ?? 60);
const stateDir = process.env.CONFINE_BENCH_STATE_DIR ?? '/tmp/confine-bench-state';
const host = await JailHost.open({ stateDir, uidBase: 1_950_300_000, uidCount: 64 });
// The same engine with two workspaces kept mounted ahead of demand (JailHostConfig.workspacePool).
const pooledHost = await JailHost.open({ stateDir, uidBase: 1_950_300_200, uidCount: 64, workspacePool: 2 });
// ... and with launchers waiting inside fresh job cgroups as well (JailHostConfig.launcherPool, warm.ts).
const warmHost = await JailHost.open({ stateDir, uidBase: 1_950_300_400, uidCount: 64, workspacePool: 2, launcherPool: 2 });
// ... and returning as soon as the jail is gone, unmounting and removing its cgroup in the background.
const fastHost = await JailHost.open({ stateDir, uidBase: 1_950_300_600, uidCount: 64, workspacePool: 2, launcherPool: 2, asyncCleanup: true });
const profile = await buildShellProfile(['true'], host.programSource);
const spec = shellSpec(profile, { command: { argv: ['true'] }, limits: { ...DEFAULT_LIMITS, wallTimeMs: 10_000 } });
const program = profile.programs.find((p) => p.name === 'true')!.hostPath;

// bare bwrap: same argv, pre-made workspace owned by the same kind of unprivileged uid.
const bareUid = 1_950_300_150;
const bareDir = join(stateDir, 'bare');
mkdirSync(join(bareDir, 'workspace'), { recursive: true });
mkdirSync(join(bareDir, 'tmp'), { recursive: true });
for (const dir of [bareDir, join(bareDir, 'workspace'), join(bareDir, 'tmp')]) chownSync(dir, bareUid, bareUid);
const plan = bwrapArgs(spec, { workspaceHostPath: join(bareDir, 'workspace'), tmpHostPath: join(bareDir, 'tmp'), seccompFd: 3, firstDataFd: 4 });
const seccomp = host.seccomp.shell.program;

function spawnAndWait(file: string, args: string[], options: { uid?: number; gid?: number; pipes?: (Buffer | string)[] } = {}): Promise<number> {
  const pipes = options.pipes ?? [];
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...pipes.map(() => 'pipe' as const)];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio, env: {}, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid! }) });
    child.stdout!.resume();
    child.stderr!.resume();
    pipes.forEach((data, i) => {
      const stream = child.stdio[3 + i] as Writable;
      stream.on('error', () => {}); // EPIPE if bwrap closed early: the exit code tells
      stream.end(data);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
}

/** One timed run; pool refills and background cleanup are awaited untimed, so they never land inside
 * another sample (the pooled figures are for a service with idle moments). */
async function engineRun(engine: JailHost, label: string): Promise<number> {
  const started = performance.now();
  const result = await engine.run(spec);
  if (result.exit_reason !== 'exited' || result.exit_code !== 0) throw new Error(`${label} engine run failed: ${JSON.stringify(result)}`);
  const elapsed = performance.now() - started;
  await engine.ready();
  return elapsed;
}

const measure = {
  engine: () => engineRun(host, 'default'),
  pooled: () => engineRun(pooledHost, 'pooled'),
  warm: () => engineRun(warmHost, 'warm'),
  fast: () => engineRun(fastHost, 'fast'),
  async bare(): Promise<number> {
    const started = performance.now();
    const code = await spawnAndWait(host.tools.bwrap, plan.args, { uid: bareUid, gid: bareUid, pipes: [seccomp, ...plan.dataFiles] });
    if (code !== 0) throw new Error(`bare bwrap exited ${code}`);
    return performance.now() - started;
  },
  async unsandboxed(): Promise<number> {
    const started = performance.now();
    const code = await spawnAndWait(program, []);
    if (code !== 0) throw new Error(`true exited ${code}`);
    return performance.now() - started;
  },
};
type Kind = keyof typeof measure;
const kinds: Kind[] = ['engine', 'pooled', 'warm', 'fast', 'bare', 'unsandboxed'];
const samples: Record<Kind, number[]> = { engine: [], pooled: [], warm: [], fast: [], bare: [], unsandboxed: [] };

for (const kind of kinds) await measure[kind](); // warm-up: page cache, JIT
for (let i = 0; i < runs; i++) {
  // Rotate the order so no kind always runs right after another's cleanup.
  for (let j = 0; j < kinds.length; j++) {
    const kind = kinds[(i + j) % kinds.length]!;
    samples[kind].push(await measure[kind]());
  }
}
rmSync(bareDir, { recursive: true, force: true });
await pooledHost.close();
await warmHost.close();
await fastHost.close();

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const m = { engine: median(samples.engine), pooled: median(samples.pooled), warm: median(samples.warm), fast: median(samples.fast), bare: median(samples.bare), unsandboxed: median(samples.unsandboxed) };
const ms = (v: number): string => `${v.toFixed(2)} ms`;
console.log(`jail spawn-to-exit, /usr/bin/true, median of ${runs} interleaved runs each`);
console.log(`  engine (JailHost.run, shell profile): ${ms(m.engine)}`);
console.log(`  engine, workspacePool=2:             ${ms(m.pooled)}`);
console.log(`  engine, workspacePool=2 launcherPool=2: ${ms(m.warm)}`);
console.log(`  engine, pools + asyncCleanup:        ${ms(m.fast)}`);
console.log(`  bare bwrap (same argv):               ${ms(m.bare)}`);
console.log(`  unsandboxed:                          ${ms(m.unsandboxed)}`);
console.log(`  engine / bare bwrap:   ${(m.engine / m.bare).toFixed(2)}x (target <= 1.50x)`);
console.log(`  pooled engine / bare:  ${(m.pooled / m.bare).toFixed(2)}x`);
console.log(`  warm engine / bare:    ${(m.warm / m.bare).toFixed(2)}x`);
console.log(`  fast engine / bare:    ${(m.fast / m.bare).toFixed(2)}x (target <= 1.50x)`);
console.log(`  engine / unsandboxed:  ${(m.engine / m.unsandboxed).toFixed(2)}x`);
console.log(`  bare / unsandboxed:    ${(m.bare / m.unsandboxed).toFixed(2)}x`);

// Where a jail's CPU goes: node's own CPU per run vs everything else (kernel, agent, bwrap, the program).
import { readFileSync } from 'node:fs';
import { JailHost } from '../src/jail/host.js';
import { DEFAULT_LIMITS } from '../src/jail/limits.js';
import { buildShellProfile, shellSpec } from '../src/jail/profiles/shell.js';

const total = Number(process.argv[2] ?? 600);
const concurrency = Number(process.argv[3] ?? 8);
const host = await JailHost.open({ stateDir: '/tmp/confine-bench-state', uidBase: 1_950_600_400, uidCount: 64, workspacePool: Number(process.env.WORKSPACE_POOL ?? 2), launcherPool: Number(process.env.LAUNCHER_POOL ?? 0) });
const profile = await buildShellProfile(['echo'], host.programSource);
const spec = shellSpec(profile, { command: { argv: ['echo', 'hi'] }, limits: { ...DEFAULT_LIMITS, wallTimeMs: 10_000 } });
const systemCpu = (): number => {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = fields.map(Number);
  return (n[0]! + n[1]! + n[2]! + n[5]! + n[6]!) * 10; // user nice system irq softirq, in ms
};
async function drive(count: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < count) {
      const r = await host.run(spec);
      if (r.stdout !== 'hi\n') throw new Error(JSON.stringify(r));
    }
  }));
}
await drive(40);
const c0 = process.cpuUsage();
const s0 = systemCpu();
const t0 = performance.now();
await drive(total);
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const sys = systemCpu() - s0;
console.log(`${(total / seconds).toFixed(1)} runs/s; node ${((c.user + c.system) / 1000 / total).toFixed(2)} ms CPU/run (user ${(c.user / 1000 / total).toFixed(2)}, sys ${(c.system / 1000 / total).toFixed(2)}); machine ${(sys / total).toFixed(2)} ms CPU/run`);
await host.close();

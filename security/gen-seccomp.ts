// Regenerates security/seccomp.json (make security-profile): traces the built service under the workload
// (security/trace.ts), twice by default so calls that depend on timing (a futex wait, a short sleep) are
// caught, and writes the profile (security/profile.ts). Run as root on a host that runs jails (`make
// setup`; strace). Prints what changed against the committed profile.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { allowedNames, buildProfile, knownSyscall, type SeccompProfile } from './profile.js';
import { traceService } from './trace.js';

const OUT = fileURLToPath(new URL('./seccomp.json', import.meta.url));
const RUNS = Number(process.env.PROFILE_RUNS ?? '2');

async function previous(): Promise<Set<string>> {
  try {
    return allowedNames(JSON.parse(await readFile(OUT, 'utf8')) as SeccompProfile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw error;
  }
}

async function main(): Promise<void> {
  const observed = new Set<string>();
  for (let run = 0; run < RUNS; run++) {
    const trace = await traceService({ uidBase: 1_950_480_000, stateDir: process.env.CONFINE_STATE_DIR ?? '/var/lib/confine' });
    const failed = trace.steps.filter((step) => !step.ok);
    if (failed.length > 0) {
      throw new Error(`the workload failed, so the trace would not describe a working service:\n${failed.map((s) => `${s.name}: ${s.detail}`).join('\n')}`);
    }
    for (const name of trace.syscalls) observed.add(name);
    process.stderr.write(`run ${run + 1}: ${trace.processes} processes, ${trace.syscalls.size} distinct syscalls\n`);
  }
  const unknown = [...observed].filter((name) => !knownSyscall(name));
  if (unknown.length > 0) process.stderr.write(`not syscall names libseccomp knows, left out: ${unknown.join(' ')}\n`);
  const before = await previous();
  const profile = buildProfile(observed);
  const after = allowedNames(profile);
  await writeFile(OUT, `${JSON.stringify(profile, null, 2)}\n`);
  const added = [...after].filter((name) => !before.has(name));
  const removed = [...before].filter((name) => !after.has(name));
  process.stderr.write(`wrote ${OUT}: ${after.size} syscalls allowed (${observed.size} observed)\n`);
  if (before.size > 0) process.stderr.write(`added: ${added.join(' ') || '-'}\nremoved: ${removed.join(' ') || '-'}\n`);
}

await main();

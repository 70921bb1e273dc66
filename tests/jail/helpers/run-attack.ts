// Runs one catalogue attack in a real shell jail with the attack helper bound at /opt/attack/attack (on PATH).
import type { JailHost } from '../../../src/jail/host.js';
import { DEFAULT_LIMITS } from '../../../src/jail/limits.js';
import { buildShellProfile, shellSpec, type ShellProfile } from '../../../src/jail/profiles/shell.js';
import type { JailLimits, JailSpec, Mount, RunResult } from '../../../src/jail/spec.js';
import { ATTACK_IN_JAIL, attackMount, withAttackOnPath } from '../../support/attack.js';
import type { AttackCase } from '../../attack/catalogue.js';

export interface AttackRun {
  spec: JailSpec;
  result: RunResult;
  hostUid: number;
}

const profiles = new Map<string, Promise<ShellProfile>>();

export function profileFor(host: JailHost, programs: readonly string[] = []): Promise<ShellProfile> {
  const key = [...programs].sort().join(',');
  let profile = profiles.get(key);
  if (!profile) {
    profile = buildShellProfile(programs, host.programSource);
    profiles.set(key, profile);
  }
  return profile;
}

export function attackLimits(overrides: Partial<JailLimits> = {}): JailLimits {
  return { ...DEFAULT_LIMITS, wallTimeMs: 10_000, ...overrides };
}

export async function attackSpec(host: JailHost, attack: AttackCase, extraMounts: readonly Mount[] = []): Promise<JailSpec> {
  const profile = await profileFor(host, attack.programs);
  const command = 'attack' in attack.command ? { argv: [ATTACK_IN_JAIL, ...attack.command.attack] } : { script: attack.command.script };
  const spec = withAttackOnPath(shellSpec(profile, { command, limits: attackLimits(attack.limits), extraMounts: [attackMount(), ...extraMounts] }));
  return attack.seccompProfile ? { ...spec, seccompProfile: attack.seccompProfile } : spec;
}

export async function runAttack(host: JailHost, attack: AttackCase, onUid: (uid: number) => void = () => {}): Promise<AttackRun> {
  const spec = await attackSpec(host, attack);
  let hostUid = -1;
  const result = await host.run(spec, undefined, {
    onStart: (info) => {
      hostUid = info.hostUid;
      onUid(info.hostUid);
    },
  });
  return { spec, result, hostUid };
}

/** Why an outcome does not match the catalogue's expectation (empty when contained as expected). */
export function mismatches(attack: AttackCase, run: AttackRun): string[] {
  const problems: string[] = [];
  const { result } = run;
  if (!attack.expected.exitReasons.includes(result.exit_reason)) {
    problems.push(`exit_reason ${result.exit_reason}, expected ${attack.expected.exitReasons.join(' or ')}`);
  }
  if (attack.expected.stdout && !attack.expected.stdout.test(result.stdout)) {
    problems.push(`stdout ${JSON.stringify(result.stdout.slice(0, 200))} does not match ${attack.expected.stdout}`);
  }
  if (attack.expected.stderr && !attack.expected.stderr.test(result.stderr)) {
    problems.push(`stderr ${JSON.stringify(result.stderr.slice(0, 200))} does not match ${attack.expected.stderr}`);
  }
  if (attack.expected.truncated === 'stdout' && !result.stdout_truncated) problems.push('stdout not truncated');
  if (attack.expected.truncated === 'stderr' && !result.stderr_truncated) problems.push('stderr not truncated');
  return problems;
}

/** One line for humans: what the jail reported. */
export function observed(run: AttackRun): string {
  const lines = run.result.stdout.split('\n').filter(Boolean);
  const line = lines.find((l) => l.startsWith('attempt='))?.replace(/^attempt=\S+ ?/, '') ?? (run.result.stdout_truncated ? undefined : lines.at(-1));
  const parts: string[] = [run.result.exit_reason];
  if (run.result.signal) parts.push(run.result.signal);
  if (line) parts.push(line.slice(0, 60));
  if (run.result.stdout_truncated) parts.push(`stdout truncated at ${run.result.stdout.length} B`);
  if (run.result.stderr_truncated) parts.push(`stderr truncated at ${run.result.stderr.length} B`);
  return parts.join(' · ');
}

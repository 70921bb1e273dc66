// `confine doctor`: what this host can do, checked by doing it (a real jail is built), not by guessing.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import { AGENT_BINARY } from '../jail/agent/client.js';
import { CgroupDelegationError } from '../jail/cgroup/index.js';
import { runHostTool } from '../jail/host-exec.js';
import { findExecutable } from '../jail/host-tools.js';
import { JailHost } from '../jail/host.js';
import { DEFAULT_LIMITS } from '../jail/limits.js';
import { buildShellProfile, shellSpec } from '../jail/profiles/shell.js';
import { StateDirError } from '../jail/state-dir.js';
import { redisChecks } from './redis.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  seccomp: { profile: string; allowed_syscalls: number; instructions: number }[];
  providers: string[];
}

export const MIN_TERRAFORM = '1.5.7'; // CVE-2023-4782 (module-name path traversal) is fixed from here on

export interface DoctorOptions {
  /** false on an API node of many hosts (`--role api`): it runs no jail, so only its shared state is checked. */
  jails?: boolean;
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string): void => void checks.push({ name, status, detail });
  const { seccomp, providers } = options.jails === false ? { seccomp: [], providers: [] } : await hostChecks(config, add);

  // Many hosts: the Redis API nodes and workers share (reachable, version, AOF, eviction, access, workers).
  if (config.redis.url !== '') checks.push(...(await redisChecks(config)));

  return { ok: !checks.some((c) => c.status === 'fail'), checks, seccomp, providers };
}

/** What running jails and Terraform on this host needs, checked by building a real jail. */
async function hostChecks(config: Config, add: (name: string, status: CheckStatus, detail: string) => void): Promise<Pick<DoctorReport, 'seccomp' | 'providers'>> {
  const bwrap = findExecutable('bwrap');
  const bwrapVersion = bwrap ? (await runHostTool(bwrap, ['--version'])).stdout.trim() : '';
  add('bubblewrap', bwrap ? 'ok' : 'fail', bwrap ? `${bwrapVersion} (${bwrap})` : 'not installed: apt-get install bubblewrap');

  add('jail agent', existsSync(AGENT_BINARY) ? 'ok' : 'fail', existsSync(AGENT_BINARY) ? AGENT_BINARY : `${AGENT_BINARY} missing: npm run build compiles it (needs cc)`);

  const maxUserNs = Number((await readFile('/proc/sys/user/max_user_namespaces', 'utf8').catch(() => '0')).trim());
  add('user namespaces', maxUserNs > 0 ? 'ok' : 'fail', `user.max_user_namespaces = ${maxUserNs}`);

  const actions = (await readFile('/proc/sys/kernel/seccomp/actions_avail', 'utf8').catch(() => '')).trim();
  add('seccomp', actions.includes('kill_process') && actions.includes('errno') ? 'ok' : 'fail', actions ? `actions: ${actions}` : 'seccomp not available');

  let seccomp: DoctorReport['seccomp'] = [];
  let host: JailHost | undefined;
  try {
    host = await JailHost.open({ stateDir: config.stateDir, uidBase: config.uidBase, uidCount: config.uidCount });
    add('state directory', 'ok', `${config.stateDir}: every directory on the way is searchable by the jails' uids`);
    add('cgroups', 'ok', `v${host.cgroups.version}; controllers ${host.cgroups.controllers.join(', ')}; jobs under ${host.cgroups.roots.join(', ')}`);
    if (host.cgroups.version === 2) add('cgroup delegation', 'ok', await delegationDetail());
    seccomp = Object.entries(host.seccomp).map(([profile, compiled]) => ({
      profile,
      allowed_syscalls: compiled.allowedSyscalls.length,
      instructions: compiled.instructionCount,
    }));
    add('seccomp allowlists', 'ok', seccomp.map((s) => `${s.profile}: ${s.allowed_syscalls} syscalls`).join('; '));
    add('jail identities', 'ok', `host uids ${config.uidBase}..${config.uidBase + config.uidCount - 1}`);
  } catch (error) {
    // The state directory is checked first at open: its failure is named as such, not as a cgroup problem.
    if (error instanceof CgroupDelegationError) {
      add('cgroups', 'fail', `cgroup v2: ${error.reason}`);
      add('cgroup delegation', 'fail', error.advice);
    } else {
      add(error instanceof StateDirError ? 'state directory' : 'cgroups', 'fail', error instanceof Error ? error.message : String(error));
    }
  }

  if (host) {
    try {
      const profile = await buildShellProfile([], host.programSource);
      let hostUid = -1;
      const result = await host.run(
        shellSpec(profile, { command: { script: 'echo jail-ok' }, limits: { ...DEFAULT_LIMITS, wallTimeMs: 10_000 } }),
        undefined,
        { onStart: (info) => void (hostUid = info.hostUid) },
      );
      const ok = result.exit_reason === 'exited' && result.stdout.trim() === 'jail-ok' && hostUid > 0;
      add('jail', ok ? 'ok' : 'fail', ok ? `built and ran a jail as host uid ${hostUid} in ${result.wall_ms} ms` : `smoke run failed: ${result.exit_reason} ${result.stderr.trim()}`);
    } catch (error) {
      add('jail', 'fail', error instanceof Error ? error.message : String(error));
    }
  }

  const terraform = findExecutable(config.terraformBin);
  if (!terraform) {
    add('terraform', 'warn', `${config.terraformBin} not found: Terraform runs are unavailable`);
  } else {
    const out = await runHostTool(terraform, ['version', '-json']);
    const version = (JSON.parse(out.stdout || '{}') as { terraform_version?: string }).terraform_version ?? 'unknown';
    const old = compareVersions(version, MIN_TERRAFORM) < 0;
    add('terraform', old ? 'warn' : 'ok', `${version} (${terraform})${old ? `; below ${MIN_TERRAFORM}: CVE-2023-4782` : ''}`);
  }

  const providers = config.providerMirror ? await mirrorProviders(config.providerMirror) : [];
  add('provider mirror', providers.length > 0 ? 'ok' : 'warn', config.providerMirror ? `${config.providerMirror}: ${providers.join(', ') || 'no providers'}` : 'not configured (TF_PROVIDER_MIRROR)');

  return { seccomp, providers };
}

/** Where the service's own processes went (v2: the delegated cgroup's supervisor leaf). */
async function delegationDetail(): Promise<string> {
  const own = /^0::(.*)$/m.exec(await readFile('/proc/self/cgroup', 'utf8'))?.[1] ?? 'unknown';
  return `service processes in ${own}; job groups beside it`;
}

/** Lists `hostname/namespace/type version` in an unpacked or packed filesystem mirror. */
export async function mirrorProviders(mirror: string): Promise<string[]> {
  const found: string[] = [];
  const dirs = async (path: string): Promise<string[]> =>
    (await readdir(path, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const hostname of await dirs(mirror)) {
    for (const namespace of await dirs(join(mirror, hostname))) {
      for (const type of await dirs(join(mirror, hostname, namespace))) {
        for (const version of await dirs(join(mirror, hostname, namespace, type))) {
          found.push(`${hostname}/${namespace}/${type} ${version}`);
        }
      }
    }
  }
  return found.sort();
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return 0;
}

// security/seccomp.json, the service container's own profile: OCI/Docker shape, deny by default, exactly what
// the generator builds from its observed list (no hand edits), a superset of what the jails allow tenant
// programs, none of the escape syscalls the service never makes, and (re-traced here for real) every
// syscall the service tree makes under the workload.
import { describe, expect, it } from 'vitest';
import { allowedNames, ARCHITECTURES, buildProfile, jailSyscalls, knownSyscall, type SeccompProfile } from '../../security/profile.js';
import { traceService } from '../../security/trace.js';
import { TEST_STATE_DIR } from '../support/jail.js';
import { repoFile } from './support.js';

const profile = JSON.parse(repoFile('security/seccomp.json')) as SeccompProfile;
const allowed = allowedNames(profile);

/**
 * Escapes and kernel attack surface the service, its agent and bubblewrap never call. (`setns` left this
 * list with egress: a launcher joins a door's network namespace through a descriptor the agent got from
 * that door; the jails' own profiles still refuse it.)
 */
const NEVER = [
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'bpf', 'perf_event_open', 'userfaultfd',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'kexec_load', 'kexec_file_load', 'init_module',
  'finit_module', 'delete_module', 'open_by_handle_at', 'name_to_handle_at', 'add_key', 'request_key',
  'swapon', 'swapoff', 'reboot', 'acct', 'quotactl', 'syslog', 'iopl', 'ioperm', 'settimeofday', 'clock_settime',
  'adjtimex', 'fanotify_init', 'move_mount', 'open_tree', 'fsopen', 'fsmount', 'lookup_dcookie', 'uselib',
];

describe('security/seccomp.json', () => {
  it('seccomp_profile_is_an_oci_profile_that_denies_by_default_with_eperm', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
    expect(profile.architectures).toEqual(ARCHITECTURES);
    expect(profile.architectures).not.toContain('SCMP_ARCH_X86');
    expect(profile.syscalls.length).toBeGreaterThan(0);
    const seen = new Set<string>();
    for (const rule of profile.syscalls) {
      expect(rule.action).toBe('SCMP_ACT_ALLOW');
      expect(rule.names).toEqual([...rule.names].sort());
      for (const name of rule.names) {
        expect(knownSyscall(name), `${name} is a syscall libseccomp knows`).toBe(true);
        expect(seen.has(name), `${name} is listed once`).toBe(false);
        seen.add(name);
      }
    }
  });

  it('seccomp_profile_is_exactly_what_the_generator_builds_from_its_observed_list', () => {
    // Hand edits would make the file lie about where its entries come from: regenerate instead.
    expect(profile.syscalls[0]!.comment).toMatch(/^Observed/);
    expect(buildProfile(profile.syscalls[0]!.names), 'security/seccomp.json is stale or hand-edited: run make security-profile').toEqual(profile);
  });

  it('seccomp_profile_allows_everything_the_jail_filters_let_tenant_programs_call', () => {
    const missing = [...jailSyscalls()].filter((name) => knownSyscall(name) && !allowed.has(name));
    expect(missing).toEqual([]);
  });

  it('seccomp_profile_denies_escape_syscalls_the_service_never_makes', () => {
    expect(NEVER.filter((name) => allowed.has(name))).toEqual([]);
    // and denies most of the kernel: a profile that allowed nearly everything would prove nothing.
    expect(allowed.size).toBeLessThan(260);
  });

  it('seccomp_profile_allows_every_syscall_the_service_makes_under_the_workload', async () => {
    const trace = await traceService({ uidBase: 1_950_481_000, stateDir: TEST_STATE_DIR });
    expect(trace.steps.filter((step) => !step.ok)).toEqual([]);
    // The trace covered the whole tree: service, agent, launchers, bubblewrap, jailed programs, terraform.
    expect(trace.processes).toBeGreaterThan(50);
    for (const name of ['mount', 'umount2', 'pivot_root', 'setresuid', 'execve', 'clone']) expect(trace.syscalls).toContain(name);
    const denied = [...trace.syscalls].filter((name) => knownSyscall(name) && !allowed.has(name));
    expect(denied, 'observed but not in security/seccomp.json: run make security-profile').toEqual([]);
  }, 240_000);
});

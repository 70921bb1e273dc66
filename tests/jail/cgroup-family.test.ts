// Which processes of a delegated cgroup are the service's (src/jail/cgroup/family.ts) and which cgroups are
// not ours to use (delegation.ts). The process tables below are the placements systemd makes; the last
// cases read this host's real /proc.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { missingControllers, sessionScopeOf } from '../../src/jail/cgroup/delegation.js';
import { commandOf, descendsFrom, familyHead, parentOf, type ProcessView, within } from '../../src/jail/cgroup/family.js';

/** pid -> [parent, cgroup] */
function table(rows: Record<number, [number, string]>): ProcessView {
  return { parentOf: (pid) => rows[pid]?.[0], cgroupOf: (pid) => rows[pid]?.[1] };
}

const UNIT = '/system.slice/confine.service';
// systemd (init.scope) started `sh -c "exec node ..."` as the unit's main process; node started the jail
// agent, which forked a launcher; a stranger (started by pid 1 straight into the unit) sits beside them.
const SYSTEMD_UNIT = table({
  1: [0, '/init.scope'],
  200: [1, UNIT],
  300: [200, UNIT],
  400: [300, `${UNIT}/confine-supervisor`],
  410: [400, UNIT],
  500: [1, UNIT],
});

describe('the service family in a delegated cgroup', () => {
  it('head_is_the_topmost_ancestor_inside_the_unit', () => {
    expect(familyHead(300, UNIT, SYSTEMD_UNIT)).toBe(200);
    expect(familyHead(400, UNIT, SYSTEMD_UNIT)).toBe(200); // the supervisor leaf is inside the unit
  });

  it('agent_and_its_launcher_are_family_and_a_stranger_is_not', () => {
    expect(descendsFrom(300, 200, SYSTEMD_UNIT)).toBe(true);
    expect(descendsFrom(410, 200, SYSTEMD_UNIT)).toBe(true);
    expect(descendsFrom(500, 200, SYSTEMD_UNIT)).toBe(false);
    expect(descendsFrom(1, 200, SYSTEMD_UNIT)).toBe(false);
  });

  it('process_already_gone_counts_as_leaving_not_as_foreign', () => {
    expect(descendsFrom(999, 200, SYSTEMD_UNIT)).toBe(true);
  });

  it('container_pid_1_in_the_same_cgroup_heads_the_family', () => {
    // Private cgroup namespace: the entrypoint (pid 1) and node share the namespace root "/".
    const view = table({ 1: [0, '/'], 7: [1, '/'], 9: [7, '/'] });
    expect(familyHead(9, '/', view)).toBe(1);
    expect(descendsFrom(7, 1, view)).toBe(true);
  });

  it('within_matches_the_cgroup_and_below_only', () => {
    expect(within(UNIT, UNIT)).toBe(true);
    expect(within(`${UNIT}/confine-supervisor`, UNIT)).toBe(true);
    expect(within('/system.slice/confine.service2', UNIT)).toBe(false);
    expect(within(undefined, UNIT)).toBe(false);
    expect(within('/anything', '/')).toBe(true);
  });

  it('real_children_of_this_process_are_family_and_its_parent_is_not', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const grandchild = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      for (let i = 0; i < 100 && commandOf(grandchild) !== 'sleep'; i++) await sleep(10);
      expect(parentOf(grandchild)).toBe(child.pid);
      expect(commandOf(grandchild)).toBe('sleep');
      expect(descendsFrom(grandchild, process.pid)).toBe(true);
      expect(descendsFrom(process.ppid, process.pid)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('cgroups that are not delegated', () => {
  it('login_session_scopes_are_recognised_and_service_scopes_are_not', () => {
    expect(sessionScopeOf('/user.slice/user-1000.slice/session-3.scope')).toBe('session-3.scope');
    expect(sessionScopeOf('/user.slice/user-0.slice/session-c2.scope')).toBe('session-c2.scope');
    expect(sessionScopeOf('/system.slice/run-r8f2.scope')).toBeUndefined(); // systemd-run --scope
    expect(sessionScopeOf('/system.slice/confine.service')).toBeUndefined();
    expect(sessionScopeOf('/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope')).toBeUndefined();
  });

  it('missing_controllers_are_listed_by_name', () => {
    expect(missingControllers(['cpu', 'io', 'memory', 'pids'], ['memory', 'pids', 'cpu'])).toEqual([]);
    expect(missingControllers(['cpu', 'io'], ['memory', 'pids', 'cpu'])).toEqual(['memory', 'pids']);
  });
});

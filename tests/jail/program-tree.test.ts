// A shell profile's programs as one read-only tree at /usr: exactly the set, shared between identical sets,
// and refused where it could not run (a noexec filesystem).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveProgram } from '../../src/jail/profiles/host-programs.js';
import { ownedName } from '../../src/jail/liveness.js';
import { mountOf, parseMountinfo } from '../../src/jail/mountinfo.js';
import { programMounts, sweepPartialTrees } from '../../src/jail/profiles/program-tree.js';
import { testHost } from '../support/jail.js';

const scratch = mkdtempSync(join(tmpdir(), 'confine-trees-'));

afterAll(() => {
  const noexec = join(scratch, 'noexec');
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${noexec} `)) execFileSync('umount', [noexec]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('program tree', () => {
  it('holds_exactly_the_programs_and_their_libraries_read_only_and_is_reused', async () => {
    const { programSource } = await testHost();
    const programs = await Promise.all(['cat', 'echo'].map((name) => resolveProgram(name, programSource.lddPath)));
    const treesDir = join(scratch, 'trees');
    const mounts = await programMounts(programs, treesDir);
    const usr = mounts.find((m) => m.kind === 'ro-bind' && m.target === '/usr');
    expect(usr?.kind).toBe('ro-bind');
    const tree = usr!.kind === 'ro-bind' ? usr!.source : '';
    expect(readdirSync(join(tree, 'bin')).sort()).toEqual(['cat', 'echo']);
    expect(statSync(join(tree, 'bin', 'cat')).mode & 0o777).toBe(0o555);
    expect(statSync(join(tree, 'bin', 'cat')).uid).toBe(0);
    expect(mounts).toContainEqual({ kind: 'symlink', target: '/bin', linkTo: 'usr/bin' });
    // The same set again: the same directory, nothing rebuilt.
    const again = await programMounts(programs, treesDir);
    expect(again).toEqual(mounts);
    expect(readdirSync(treesDir)).toHaveLength(1);
  });

  it('refuses_a_state_directory_on_a_noexec_filesystem', async () => {
    const { programSource } = await testHost();
    const dir = join(scratch, 'noexec');
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,noexec', 'confine-test-noexec', dir]);
    const programs = [await resolveProgram('echo', programSource.lddPath)];
    await expect(programMounts(programs, join(dir, 'programs'))).rejects.toThrow(/noexec/);
  });

  it('a_half_built_tree_of_a_dead_builder_is_swept_a_live_ones_is_kept', async () => {
    const treesDir = join(scratch, 'sweep');
    const dead = join(treesDir, '.building-999999999-aaaa');
    const live = join(treesDir, `.building-${ownedName('bbbb')}`);
    for (const dir of [dead, live]) mkdirSync(join(dir, 'bin'), { recursive: true });
    expect(await sweepPartialTrees(treesDir)).toEqual(['.building-999999999-aaaa']);
    expect(readdirSync(treesDir)).toEqual([`.building-${ownedName('bbbb')}`]);
  });

  it('mount_options_come_from_the_innermost_mount', () => {
    const mountinfo = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '30 22 0:40 / /var/lib rw,nosuid,noexec shared:2 - tmpfs tmpfs rw',
      '31 30 0:41 / /var/lib/confine\\040state rw,nosuid shared:3 - tmpfs tmpfs rw',
    ].join('\n');
    const entries = parseMountinfo(mountinfo);
    expect(mountOf('/var/lib/confine state/programs/x', entries)?.options).toEqual(['rw', 'nosuid']);
    expect(mountOf('/var/lib/other', entries)?.options).toContain('noexec');
    expect(mountOf('/var/library', entries)?.options).toEqual(['rw', 'relatime']);
  });
});

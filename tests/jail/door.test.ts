// The door of an egress step (issue 11), attacked from inside real jails: a jail joined to a door's
// network namespace (JailSpec.network) under the terraform-egress seccomp profile reaches the door's
// listener, which relays to a stand-in for the host's proxy, and nothing else: no other port, no metadata
// address, no IPv6, no host unix socket, no other run's door, no interface or address changes. After
// close() the door process is gone and its namespace can no longer be joined. Nothing is left behind.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Door } from '../../src/jail/door.js';
import { JailSetupError } from '../../src/jail/errors.js';
import type { JailHost } from '../../src/jail/host.js';
import { processAlive } from '../../src/jail/liveness.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import type { JailSpec, RunResult } from '../../src/jail/spec.js';
import { parseAttackLine } from '../support/attack.js';
import { limits, testHost } from '../support/jail.js';
import { leftovers, NOTHING_LEFT, waitForNoZombies } from './helpers/leftovers.js';
import { PROBE_IN_JAIL, probeMount, startStandInProxy, type StandInProxy } from './helpers/net-probe.js';
import { profileFor } from './helpers/run-attack.js';

const PORT_A = 8080;
const PORT_B = 8081;
/** Unprivileged identities for the doors, outside the test host's uid pool (tests/support/jail.ts). */
const DOOR_UID_A = 1_950_199_960;
const DOOR_UID_B = 1_950_199_961;

let host: JailHost;
let proxyA: StandInProxy;
let proxyB: StandInProxy;
let doorA: Door;
let doorB: Door;
const uids = new Set<number>();

beforeAll(async () => {
  host = await testHost();
  proxyA = await startStandInProxy({ name: 'proxy-A', replyBytes: 512 * 1024 });
  proxyB = await startStandInProxy({ name: 'proxy-B' });
  doorA = await host.openDoor({ socketPath: proxyA.socketPath, port: PORT_A, uid: DOOR_UID_A, gid: DOOR_UID_A });
  // A concurrent run's door: its own namespace, its own proxy, a port the first jail might guess.
  doorB = await host.openDoor({ socketPath: proxyB.socketPath, port: PORT_B, uid: DOOR_UID_B, gid: DOOR_UID_B });
});

afterEach(async () => {
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
});

afterAll(async () => {
  await Promise.all([doorA?.close(), doorB?.close()]);
  await Promise.all([proxyA?.close(), proxyB?.close()]);
  expect(processAlive(doorA.pid)).toBe(false);
  expect(await waitForNoZombies(uids, host.config.stateDir)).toEqual([]);
});

/** A probe run under terraform-egress, joined to `door` (null: no network field, the empty namespace). */
async function egressSpec(probe: string[], door: Door | null): Promise<JailSpec> {
  const profile = await profileFor(host);
  const spec = shellSpec(profile, { command: { argv: [PROBE_IN_JAIL, ...probe] }, limits: limits(), extraMounts: [probeMount()] });
  return { ...spec, seccompProfile: 'terraform-egress', ...(door ? { network: { netnsPath: door.netnsPath } } : {}) };
}

async function probe(args: string[], door: Door | null = doorA): Promise<{ result: RunResult; fields: Record<string, string> }> {
  const result = await host.run(await egressSpec(args, door), undefined, { onStart: (info) => uids.add(info.hostUid) });
  expect(result.stderr).toBe('');
  return { result, fields: parseAttackLine(result.stdout) };
}

describe('door: what the jail can reach', () => {
  it('connection_to_the_door_port_reaches_the_proxy_both_ways', async () => {
    const before = proxyA.received.length;
    // 2 MB up, 512 KiB + header down: more than the door's 64 KiB buffers in each direction.
    const { result, fields } = await probe(['tcp', '127.0.0.1', String(PORT_A), 'x'.repeat(1000), '2000']);
    expect(result.exit_reason).toBe('exited');
    expect(fields).toMatchObject({ result: 'ok', sent: '2000000' });
    expect(fields.reply).toMatch(/^proxy-A:received=2000000:r+$/);
    expect(Number(fields.received)).toBe('proxy-A:received=2000000:'.length + 512 * 1024);
    expect(proxyA.received.slice(before)).toEqual([2_000_000]);
  });

  it('the_namespace_holds_only_lo', async () => {
    const { fields } = await probe(['interfaces']);
    expect(fields.interfaces).toBe('lo:127.0.0.1');
  });

  it('another_port_on_localhost_refused', async () => {
    const { fields } = await probe(['tcp', '127.0.0.1', '22', 'hello']);
    expect(fields).toMatchObject({ stage: 'connect', errno: 'ECONNREFUSED' });
  });

  it('metadata_address_unreachable', async () => {
    const { fields } = await probe(['tcp', '169.254.169.254', '80', 'GET']);
    expect(fields).toMatchObject({ stage: 'connect', errno: 'ENETUNREACH' });
  });

  it('ipv6_socket_refused_by_seccomp', async () => {
    const { fields } = await probe(['tcp6', '::1', String(PORT_A)]);
    expect(fields).toMatchObject({ stage: 'socket', errno: 'EAFNOSUPPORT' });
  });

  it('host_unix_socket_of_the_proxy_absent_from_the_jail', async () => {
    const { fields } = await probe(['unix', proxyA.socketPath]);
    expect(fields).toMatchObject({ stage: 'connect', errno: 'ENOENT' });
  });

  it('concurrent_runs_each_reach_only_their_own_door', async () => {
    // Both jails at once; each tries its own door's port and the other's.
    const [aOwn, aOther, bOwn, bOther] = await Promise.all([
      probe(['tcp', '127.0.0.1', String(PORT_A), 'from-a'], doorA),
      probe(['tcp', '127.0.0.1', String(PORT_B), 'from-a'], doorA),
      probe(['tcp', '127.0.0.1', String(PORT_B), 'from-b'], doorB),
      probe(['tcp', '127.0.0.1', String(PORT_A), 'from-b'], doorB),
    ]);
    expect(aOwn.fields.reply).toMatch(/^proxy-A:received=6:/);
    expect(bOwn.fields).toMatchObject({ result: 'ok', reply: 'proxy-B:received=6:' });
    expect(aOther.fields).toMatchObject({ stage: 'connect', errno: 'ECONNREFUSED' });
    expect(bOther.fields).toMatchObject({ stage: 'connect', errno: 'ECONNREFUSED' });
  });

  it('taking_lo_down_or_adding_an_address_refused', async () => {
    const down = await probe(['lo_down']);
    const address = await probe(['add_address']);
    expect(down.fields).toMatchObject({ stage: 'ioctl', errno: 'EPERM' });
    expect(address.fields).toMatchObject({ stage: 'ioctl', errno: 'EPERM' });
    // Still up, still only lo: the attempt changed nothing for the next run.
    expect((await probe(['interfaces'])).fields.interfaces).toBe('lo:127.0.0.1');
  });

  it('udp_socket_for_dns_refused_by_seccomp', async () => {
    const { fields } = await probe(['udp', '127.0.0.53', '53']);
    expect(fields).toMatchObject({ stage: 'socket', errno: 'EAFNOSUPPORT' });
  });

  it('more_connections_than_the_cap_wait_and_are_then_served', async () => {
    const proxy = await startStandInProxy({ name: 'held', holdUntil: { count: 64, holdMs: 300, idleMs: 1500 } });
    const door = await host.openDoor({ socketPath: proxy.socketPath, port: PORT_A, uid: DOOR_UID_A, gid: DOOR_UID_A });
    try {
      const { fields } = await probe(['many', '127.0.0.1', String(PORT_A), '70'], door);
      expect(fields).toMatchObject({ result: 'ok', connections: '70', replies: '70' });
      expect(proxy.maxHeld()).toBe(64); // the door's cap, reached and never passed
      expect(proxy.received).toHaveLength(70);
    } finally {
      await door.close();
      await proxy.close();
    }
  });
});

describe('door: lifetime and the namespace check', () => {
  it('close_kills_the_door_and_its_namespace_can_no_longer_be_joined', async () => {
    const door = await host.openDoor({ socketPath: proxyA.socketPath, port: PORT_A, uid: DOOR_UID_A, gid: DOOR_UID_A });
    expect(processAlive(door.pid)).toBe(true);
    await door.close();
    await door.close(); // idempotent
    expect(processAlive(door.pid)).toBe(false);
    await expect(host.run(await egressSpec(['interfaces'], door))).rejects.toMatchObject({ name: 'JailSetupError', detail: expect.stringMatching(/not a live door/) });
  });

  it('a_namespace_that_is_not_a_door_is_refused', async () => {
    for (const netnsPath of ['/proc/1/ns/net', `/proc/${process.pid}/ns/net`, '/proc/self/ns/net', `/proc/${doorA.pid}/ns/net/../net`, `/proc/0${doorA.pid}/ns/net`]) {
      const spec = { ...(await egressSpec(['interfaces'], null)), network: { netnsPath } };
      const run = host.run(spec);
      await expect(run, netnsPath).rejects.toBeInstanceOf(JailSetupError);
      await expect(run, netnsPath).rejects.toMatchObject({ detail: expect.stringMatching(/not a live door/) });
    }
    // Meanwhile the door's own runs are served normally.
    expect((await probe(['tcp', '127.0.0.1', String(PORT_A), 'still'])).fields.reply).toMatch(/^proxy-A:received=5:/);
  });

  it('open_door_refuses_bad_options_before_the_agent', async () => {
    const good = { socketPath: proxyA.socketPath, port: PORT_A, uid: DOOR_UID_A, gid: DOOR_UID_A };
    for (const bad of [
      { socketPath: 'relative.sock' },
      { socketPath: `/tmp/${'x'.repeat(110)}` },
      { socketPath: '/tmp/a\0b' },
      { port: 0 },
      { port: 65_536 },
      { port: 80.5 },
      { uid: 0 },
      { gid: 0 },
      { uid: -1 },
    ]) {
      await expect(host.openDoor({ ...good, ...bad }), JSON.stringify(bad)).rejects.toBeInstanceOf(JailSetupError);
    }
  });

  it('a_jail_without_network_has_no_network_even_with_the_egress_profile', async () => {
    const connect = await probe(['tcp', '127.0.0.1', String(PORT_A), 'hello'], null);
    const metadata = await probe(['tcp', '169.254.169.254', '80', 'GET'], null);
    expect(connect.fields).toMatchObject({ stage: 'connect', errno: 'ECONNREFUSED' });
    expect(metadata.fields).toMatchObject({ stage: 'connect', errno: 'ENETUNREACH' });
    expect((await probe(['interfaces'], null)).fields.interfaces).toBe('lo:127.0.0.1');
  });

  it('door_proxy_gone_closes_the_jails_connection_and_the_door_carries_on', async () => {
    const proxy = await startStandInProxy({ name: 'gone' });
    const door = await host.openDoor({ socketPath: proxy.socketPath, port: PORT_A, uid: DOOR_UID_A, gid: DOOR_UID_A });
    try {
      await proxy.close(); // the socket file disappears
      const first = await probe(['tcp', '127.0.0.1', String(PORT_A), 'hello'], door);
      // Cut with no byte of reply: an end of file, or a reset when the door closes with the request unread.
      expect(first.fields.errno === 'ECONNRESET' ? first.fields.stage : first.fields.received).toBe(first.fields.errno === 'ECONNRESET' ? 'receive' : '0');
      expect(first.fields.reply ?? '').toBe('');
      expect(processAlive(door.pid)).toBe(true);
    } finally {
      await door.close();
    }
  });
});

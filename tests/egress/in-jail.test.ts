// Issue 11's write refusal done for real from inside an egress-enabled jail: a real jail under the
// terraform-egress seccomp profile, joined to a real door that relays to the REAL signing proxy
// (startEgressProxy with the test credentials), whose upstream is the SigV4-verifying fake AWS. From inside
// the jail net-probe sends crafted, placeholder-signed requests (signed here with @smithy/signature-v4 as
// terraform's SDK would): ec2 RunInstances, an S3 PUT and sts AssumeRole each get the AWS-shaped refusal
// back in the jail, are listed as refused in proxy.calls() and never reach the upstream; a DescribeVpcs
// sent the same way at the same time reaches the upstream re-signed with the real credentials.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEgressProxy, type EgressProxy } from '../../src/egress/index.js';
import type { Door } from '../../src/jail/door.js';
import type { JailHost } from '../../src/jail/host.js';
import { processAlive } from '../../src/jail/liveness.js';
import { shellSpec } from '../../src/jail/profiles/shell.js';
import { parseAttackLine } from '../support/attack.js';
import { limits, testHost } from '../support/jail.js';
import { leftovers, NOTHING_LEFT, waitForNoZombies } from '../jail/helpers/leftovers.js';
import { PROBE_IN_JAIL, probeMount } from '../jail/helpers/net-probe.js';
import { profileFor } from '../jail/helpers/run-attack.js';
import { PLACEHOLDER, signedPlaceholder, type Call } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { CAPS, POLICY, REAL, secretsIn } from './support.js';

const PORT = 8080;
/** The door's unprivileged identity, outside the test host's uid pool (tests/support/jail.ts) and door.test's. */
const DOOR_UID = 1_950_199_970;

let host: JailHost;
let fake: FakeAws;
let proxy: EgressProxy;
let door: Door;
let dir: string;
const uids = new Set<number>();

beforeAll(async () => {
  host = await testHost();
  fake = await startFakeAws(REAL);
  dir = mkdtempSync(join(tmpdir(), 'confine-in-jail-'));
  chmodSync(dir, 0o711); // the door, once unprivileged, traverses to the socket
  const socketPath = join(dir, 'proxy.sock');
  proxy = await startEgressProxy({ socketPath, credentials: REAL, policy: POLICY, caps: CAPS, upstream: fake.url, socketOwner: { uid: DOOR_UID, gid: DOOR_UID } });
  door = await host.openDoor({ socketPath, port: PORT, uid: DOOR_UID, gid: DOOR_UID });
});

afterEach(async () => {
  expect(await leftovers(host, process.pid, uids)).toEqual(NOTHING_LEFT);
});

afterAll(async () => {
  await door?.close();
  await proxy?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(processAlive(door.pid)).toBe(false);
  expect(await waitForNoZombies(uids, host.config.stateDir)).toEqual([]);
});

interface InJailAnswer {
  status: number;
  head: string;
  body: string;
  /** Everything the jail received, as text (to look for leaked secrets). */
  text: string;
}

/** The exact bytes an SDK would put on the wire for `call`, signed with the jail's placeholder keys. */
async function wireBytes(call: Call): Promise<string> {
  const signed = await signedPlaceholder(call, `127.0.0.1:${PORT}`);
  const headers = Object.entries({ ...signed.headers, connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`);
  return Buffer.from(`${signed.method} ${signed.path} HTTP/1.1\r\n${headers.join('')}\r\n${signed.body}`).toString('hex');
}

/** Sends `call` from inside a jail joined to the door, under terraform-egress; returns what came back. */
async function fromJail(call: Call): Promise<InJailAnswer> {
  const profile = await profileFor(host);
  const spec = shellSpec(profile, { command: { argv: [PROBE_IN_JAIL, 'tcphex', '127.0.0.1', String(PORT), await wireBytes(call)] }, limits: limits(), extraMounts: [probeMount()] });
  const result = await host.run({ ...spec, seccompProfile: 'terraform-egress', network: { netnsPath: door.netnsPath } }, undefined, { onStart: (info) => uids.add(info.hostUid) });
  expect(result.stderr).toBe('');
  expect(result.exit_reason).toBe('exited');
  const fields = parseAttackLine(result.stdout);
  expect(fields['result'], result.stdout.slice(0, 300)).toBe('ok');
  const text = Buffer.from(fields['reply_hex'] ?? '', 'hex').toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0), head, body: split < 0 ? '' : text.slice(split + 4), text };
}

const ec2 = (action: string, extra: Record<string, string> = {}): Call => ({ service: 'ec2', form: { Action: action, Version: '2016-11-15', ...extra } });

describe('egress from inside a jail', () => {
  it('write_calls_from_the_jail_refused_aws_shaped_and_never_reach_upstream_while_a_read_is_resigned', async () => {
    const upstreamBefore = fake.requests.length;
    const callsBefore = proxy.calls().length;
    // All four at once: the refusals do not hold up the read sent through the same door meanwhile.
    const [runInstances, s3Put, assumeRole, describeVpcs] = await Promise.all([
      fromJail(ec2('RunInstances', { ImageId: 'ami-0abcdef1234567890', InstanceType: 't3.micro', MinCount: '1', MaxCount: '1' })),
      fromJail({ service: 's3', method: 'PUT', path: '/confine-bucket/stolen.txt', body: 'exfiltrated from the jail' }),
      fromJail({ service: 'sts', form: { Action: 'AssumeRole', Version: '2011-06-15', RoleArn: 'arn:aws:iam::123456789012:role/admin', RoleSessionName: 'jail' } }),
      fromJail(ec2('DescribeVpcs')),
    ]);

    // Each write got the refusal its SDK parses, inside the jail.
    expect(runInstances.status).toBe(403);
    expect(runInstances.body).toContain('<Code>UnauthorizedOperation</Code>');
    expect(runInstances.body).toContain('ec2:RunInstances is not a read-only call');
    expect(s3Put.status).toBe(403);
    expect(s3Put.body).toContain('<Code>AccessDenied</Code>');
    expect(s3Put.body).toContain('s3:PUT is not a read-only call');
    expect(assumeRole.status).toBe(403);
    expect(assumeRole.body).toContain('<Code>AccessDenied</Code>');
    expect(assumeRole.body).toContain('sts:AssumeRole is not a read-only call');

    // The read was answered by the upstream, inside the jail.
    expect(describeVpcs.status, describeVpcs.text.slice(0, 500)).toBe(200);
    expect(describeVpcs.body).toContain('<vpcId>vpc-0a1b2c3d4e5f67890</vpcId>');

    // The proxy lists each call: the three writes refused, the read allowed.
    const calls = proxy.calls().slice(callsBefore);
    expect(calls).toHaveLength(4);
    const byName = new Map(calls.map((call) => [`${call.service}:${call.action}`, call]));
    for (const name of ['ec2:RunInstances', 's3:PUT', 'sts:AssumeRole']) {
      expect(byName.get(name), name).toMatchObject({ allowed: false, status: 403, region: 'us-east-1', reason: expect.stringMatching(/not a read-only call/) });
    }
    expect(byName.get('ec2:DescribeVpcs')).toMatchObject({ allowed: true, status: 200, region: 'us-east-1' });

    // Only the read reached the upstream, and it was signed with the real credentials, not the jail's.
    const upstream = fake.requests.slice(upstreamBefore);
    expect(upstream.map((request) => `${request.service}:${request.action}`)).toEqual(['ec2:DescribeVpcs']);
    expect(upstream[0]).toMatchObject({ signatureOk: true, method: 'POST' });
    expect(upstream[0]!.headers['authorization']).toContain(`Credential=${REAL.aws_access_key_id}/`);
    expect(upstream[0]!.headers['authorization']).not.toContain(PLACEHOLDER.accessKeyId);
    expect(upstream[0]!.headers['x-amz-security-token']).toBe(REAL.aws_session_token);

    // Nothing the jail received carries the real secret or session token.
    for (const answer of [runInstances, s3Put, assumeRole, describeVpcs]) expect(secretsIn(answer.text)).toEqual([]);
  }, 120_000);
});

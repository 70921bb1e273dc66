// What a hostile jail could try against the proxy itself: steer it to another host (absolute URL,
// Host header, a crafted scope), skip signing, flood it with a body, or read the real credentials back
// from anything the proxy says. Each attempt is refused, named in calls(), and sends nothing upstream;
// an upstream whose TLS certificate does not verify is never called.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, send, signedPlaceholder, type Answer } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { startEgressProxy } from '../../src/egress/index.js';
import { CAPS, closeProxy, openProxy, POLICY, REAL, secretsIn } from './support.js';

let fake: FakeAws;
beforeAll(async () => {
  fake = await startFakeAws(REAL);
  fake.objects.set('confine-bucket/a.txt', { body: 'hello', contentType: 'text/plain' });
});
afterAll(async () => {
  await fake.close();
});

const identity = { service: 'sts', form: { Action: 'GetCallerIdentity', Version: '2011-06-15' } };

async function refusedUpstreamUntouched(attempt: (socketPath: string) => Promise<Answer>, reason: string): Promise<void> {
  const run = await openProxy(fake.url);
  try {
    const before = fake.requests.length;
    const answer = await attempt(run.socketPath);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('confine egress');
    expect(fake.requests.length).toBe(before);
    expect(run.proxy.calls()).toEqual([expect.objectContaining({ allowed: false, status: 403 })]);
    expect(run.proxy.calls()[0]?.reason).toContain(reason);
  } finally {
    await closeProxy(run);
  }
}

describe('egress proxy containment', () => {
  it('absolute_url_request_target_to_metadata_is_refused', async () => {
    await refusedUpstreamUntouched(async (socketPath) => {
      const signed = await signedPlaceholder({ service: 's3', method: 'GET', path: '/latest/meta-data/iam/security-credentials/' });
      return raw({ ...signed, path: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }, { socketPath });
    }, 'request target must be a path');
  });

  it('crafted_service_in_scope_is_refused_as_malformed', async () => {
    await refusedUpstreamUntouched((socketPath) => send({ service: 'evil.example.com#', form: { Action: 'GetThing' } }, { socketPath }), 'malformed service');
  });

  it('crafted_region_in_scope_is_refused_as_malformed', async () => {
    await refusedUpstreamUntouched((socketPath) => send({ ...identity, region: '169.254.169.254' }, { socketPath }), 'malformed region');
  });

  it('unsigned_request_is_refused', async () => {
    await refusedUpstreamUntouched(
      (socketPath) => raw({ method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity' }, { socketPath }),
      'unsigned request',
    );
  });

  it('chunk_signed_streaming_upload_is_refused', async () => {
    await refusedUpstreamUntouched(
      (socketPath) => send({ service: 's3', method: 'PUT', path: '/confine-bucket/x', headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, body: 'x' }, { socketPath }),
      'streaming',
    );
  });

  it('body_over_the_request_body_limit_is_refused', async () => {
    await refusedUpstreamUntouched(
      (socketPath) => send({ service: 'ec2', form: { Action: 'DescribeVpcs', Filler: 'x'.repeat((1 << 20) + 1) } }, { socketPath }),
      'over the 1048576-byte limit',
    );
  });

  it('jail_host_header_does_not_steer_the_call', async () => {
    const run = await openProxy(fake.url);
    try {
      const signed = await signedPlaceholder(identity, '169.254.169.254');
      const answer = await raw(signed, { socketPath: run.socketPath });
      expect(answer.status).toBe(200);
      // It went to the configured upstream, signed for that host, and nowhere else.
      expect(fake.requests.at(-1)?.headers.host).toBe(new URL(fake.url).host);
      expect(fake.requests.at(-1)?.signatureOk).toBe(true);
    } finally {
      await closeProxy(run);
    }
  });

  it('real_secret_and_token_never_appear_in_answers_calls_or_log', async () => {
    const run = await openProxy('http://127.0.0.1:1');
    const good = await openProxy(fake.url);
    try {
      const texts: string[] = [];
      const keep = (answer: Answer): void => {
        texts.push(JSON.stringify(answer.headers), answer.body);
      };
      keep(await send(identity, good));
      keep(await send({ service: 's3', method: 'GET', path: '/confine-bucket/a.txt' }, good));
      keep(await send({ service: 'sts', form: { Action: 'GetSessionToken' } }, good));
      keep(await send({ service: 'ec2', form: { Action: 'RunInstances' } }, good));
      // Upstream unreachable: the error path must not echo the signed request either.
      keep(await send(identity, run));
      texts.push(JSON.stringify(good.proxy.calls()), JSON.stringify(good.logged), JSON.stringify(run.proxy.calls()), JSON.stringify(run.logged));
      expect(run.proxy.calls()).toEqual([expect.objectContaining({ status: 502, allowed: true })]);
      expect(run.proxy.calls()[0]?.reason).toContain('upstream failed');
      expect(secretsIn(texts.join('\n'))).toEqual([]);
      // The calls did reach the fake with the real signature (the secret was used, just never shown).
      expect(fake.requests.filter((r) => r.signatureOk).length).toBeGreaterThanOrEqual(2);
    } finally {
      await closeProxy(run);
      await closeProxy(good);
    }
  });

  it('close_ends_a_call_in_flight_and_leaves_no_socket_or_connection', async () => {
    const run = await openProxy(fake.url);
    try {
      // Two finished calls at once leave idle keep-alive connections in the proxy's pool.
      await Promise.all([send(identity, run), send(identity, run)]);
      fake.delayMs = 10_000;
      const pending = send(identity, run).then(
        (answer) => `status ${answer.status}`,
        (error: unknown) => `error ${error instanceof Error ? error.message : String(error)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await run.proxy.close();
      const ended = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('still pending'), 5000))]);
      expect(ended).not.toBe('still pending');
      expect(existsSync(run.socketPath)).toBe(false);
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(run.socketPath);
        socket.on('connect', () => resolve('connected'));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused).toBe('ENOENT');
      // No upstream connection outlives the proxy either (its pool is destroyed with it).
      let open = await fake.connections();
      for (let i = 0; i < 50 && open > 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        open = await fake.connections();
      }
      expect(open).toBe(0);
    } finally {
      fake.delayMs = 0;
      await closeProxy(run);
    }
  });
});

describe('egress proxy robustness', () => {
  it('throwing_on_call_hook_neither_hangs_the_call_nor_loses_it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-egress-'));
    const socketPath = join(dir, 'proxy.sock');
    const proxy = await startEgressProxy({
      socketPath,
      credentials: REAL,
      policy: POLICY,
      caps: CAPS,
      upstream: fake.url,
      onCall: () => {
        throw new Error('audit sink down');
      },
    });
    try {
      const answer = await send(identity, { socketPath });
      expect(answer.status).toBe(200);
      const calls = proxy.calls();
      expect(calls[0]).toEqual(expect.objectContaining({ action: 'GetCallerIdentity', allowed: true, status: 200 }));
      expect(calls.at(-1)?.reason).toBe('proxy error: audit sink down');
    } finally {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('egress proxy socket', () => {
  /** Connects to the socket as another uid, the way the door does after dropping privileges. */
  const connectAs = (uid: number, socketPath: string): string => {
    const script = `const s=require('net').connect(process.argv[1]);s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',e=>console.log(e.code))`;
    return execFileSync(process.execPath, ['-e', script, socketPath], { uid, gid: uid, encoding: 'utf8' }).trim();
  };

  it('socket_admits_only_the_given_owner_uid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-egress-'));
    chmodSync(dir, 0o711);
    const socketPath = join(dir, 'proxy.sock');
    const proxy = await startEgressProxy({ socketPath, credentials: REAL, policy: POLICY, caps: CAPS, upstream: fake.url, socketOwner: { uid: 65534, gid: 65534 } });
    try {
      expect(statSync(socketPath).mode & 0o777).toBe(0o660);
      expect(statSync(socketPath).uid).toBe(65534);
      expect(connectAs(65534, socketPath)).toBe('connected');
      expect(connectAs(65533, socketPath)).toBe('EACCES');
    } finally {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('socket_without_an_owner_is_private_to_the_service', async () => {
    const run = await openProxy(fake.url);
    try {
      expect(statSync(run.socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(run.socketPath).uid).toBe(process.getuid?.());
    } finally {
      await closeProxy(run);
    }
  });
});

describe('egress proxy upstream TLS', () => {
  it('https_upstream_with_an_unverifiable_certificate_is_not_called', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-egress-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    let served = 0;
    const impostor = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
      served += 1;
      res.end('<GetCallerIdentityResponse/>');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const run = await openProxy(`https://127.0.0.1:${(impostor.address() as AddressInfo).port}`);
    try {
      const answer = await send(identity, run);
      expect(answer.status).toBe(502);
      expect(served).toBe(0);
      expect(run.proxy.calls()).toEqual([expect.objectContaining({ allowed: true, status: 502 })]);
      expect(run.proxy.calls()[0]?.reason).toMatch(/certificate/);
    } finally {
      await closeProxy(run);
      impostor.closeAllConnections();
      await new Promise((resolve) => impostor.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Shared wiring of the egress tests: real test credentials (with a session token, so the proxy must add
// it), a fake AWS that only accepts those, and per-test proxies on fresh unix sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEgressProxy } from '../../src/egress/index.js';
import type { EgressCall, EgressCaps, EgressPolicy, EgressProxy } from '../../src/egress/index.js';
import type { AwsCredentials } from '../../src/egress/types.js';

export const REAL: AwsCredentials = {
  aws_access_key_id: 'ASIAREALTESTKEY00001',
  aws_secret_access_key: 'REAL-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  aws_session_token: 'REAL-session-token-IQoJb3JpZ2luX2VjEJr-unique-7c1d',
};

export const POLICY: EgressPolicy = { services: ['sts', 'ec2', 's3'], regions: ['us-east-1', 'eu-west-1'], actions: [] };
export const CAPS: EgressCaps = { requests: 50, bytes: 1 << 20, ms: 5000 };

export interface RunningProxy {
  proxy: EgressProxy;
  socketPath: string;
  logged: EgressCall[];
  dir: string;
}

export async function openProxy(upstream: string, overrides: { policy?: EgressPolicy; caps?: EgressCaps } = {}): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'confine-egress-'));
  const socketPath = join(dir, 'proxy.sock');
  const logged: EgressCall[] = [];
  const proxy = await startEgressProxy({
    socketPath,
    credentials: REAL,
    policy: overrides.policy ?? POLICY,
    caps: overrides.caps ?? CAPS,
    upstream,
    onCall: (call) => logged.push(call),
  });
  return { proxy, socketPath, logged, dir };
}

export async function closeProxy(running: RunningProxy): Promise<void> {
  await running.proxy.close();
  rmSync(running.dir, { recursive: true, force: true });
}

/** Every place the real secret or token could leak to: answers, recorded calls, the onCall log. */
export function secretsIn(text: string): string[] {
  return [REAL.aws_secret_access_key, REAL.aws_session_token ?? ''].filter((secret) => secret !== '' && text.includes(secret));
}

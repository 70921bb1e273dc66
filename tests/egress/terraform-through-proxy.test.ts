// Real terraform and the real AWS provider 5.100.0 plan data sources through the proxy holding only
// placeholder keys (the fake verifies the REAL signature on every call), and the plan JSON equals bare
// terraform's run straight against the same fake with the real credentials. A refused call reaches
// terraform as an AWS AccessDenied that names the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutTimestamps } from '../terraform/support/bare.js';
import { PLACEHOLDER } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { hostPlan } from './host-terraform.js';
import { closeProxy, openProxy, REAL, secretsIn, type RunningProxy } from './support.js';
import { startShim, type Shim } from './tcp-shim.js';
import { DATA_SOURCES, PROVIDER } from './configs.js';



let fake: FakeAws;
let run: RunningProxy;
let shim: Shim;

beforeAll(async () => {
  fake = await startFakeAws(REAL);
  fake.objects.set('confine-bucket/config/settings.json', { body: '{"size":"small"}', contentType: 'application/json' });
  run = await openProxy(fake.url);
  shim = await startShim(run.socketPath);
});
afterAll(async () => {
  await shim.close();
  await closeProxy(run);
  await fake.close();
});

const placeholder = () => ({ endpoint: shim.url, ...PLACEHOLDER });

// Two real terraform runs per test (init + plan each, the AWS provider starting every time): minutes
// are allowed on a loaded 2-core machine; the bounds are generous upper limits, not expectations.
describe('terraform through the egress proxy', () => {
  it('plan_with_five_data_sources_through_proxy_equals_bare_terraform_with_real_credentials', async () => {
    const bare = await hostPlan(DATA_SOURCES, { endpoint: fake.url, accessKeyId: REAL.aws_access_key_id, secretAccessKey: REAL.aws_secret_access_key, sessionToken: REAL.aws_session_token ?? '' });
    expect(bare.output).toBe('');
    const bareRequests = fake.requests.length;
    const proxied = await hostPlan(DATA_SOURCES, placeholder());
    expect(proxied.output).toBe('');
    expect(withoutTimestamps(proxied.plan)).toEqual(withoutTimestamps(bare.plan));
    // The values really came from the fake's answers.
    expect(JSON.stringify(proxied.plan)).toContain('ami-0abcdef1234567890');
    // Every call the proxy forwarded carried the real signature; none was placeholder-signed.
    const upstream = fake.requests.slice(bareRequests);
    expect(upstream.length).toBeGreaterThanOrEqual(8);
    expect(upstream.every((r) => r.signatureOk)).toBe(true);
    const calls = run.proxy.calls();
    expect(calls.every((c) => c.allowed && c.status === 200)).toBe(true);
    const names = new Set(calls.map((c) => `${c.service}:${c.action}`));
    for (const name of ['sts:GetCallerIdentity', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeImages', 'ec2:DescribeVpcs', 's3:HEAD', 's3:GET']) {
      expect(names.has(name), name).toBe(true);
    }
    expect(secretsIn(JSON.stringify(proxied.plan) + JSON.stringify(calls))).toEqual([]);
  }, 180_000);

  it('refused_service_reaches_terraform_as_access_denied_naming_the_reason', async () => {
    const before = run.proxy.calls().length;
    const result = await hostPlan(`${PROVIDER}\ndata "aws_iam_user" "admin" {\n  user_name = "admin"\n}\n`, placeholder());
    expect(result.ok).toBe(false);
    expect(result.output).toContain('AccessDenied');
    expect(result.output).toContain('confine egress: service iam is not allowlisted');
    const refused = run.proxy.calls().slice(before).filter((c) => !c.allowed);
    expect(refused).toEqual([expect.objectContaining({ service: 'iam', action: 'GetUser', status: 403 })]);
  }, 120_000);
});

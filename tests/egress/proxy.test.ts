// The signing proxy, without a jail: a client holding only the placeholder keys (as a jail does) calls
// through the proxy's unix socket; the fake AWS behind it verifies the REAL signature. Allowed reads
// come back as AWS sent them; everything else gets an AWS-shaped refusal and is named in calls().
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { send, type Call } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { closeProxy, openProxy, REAL, type RunningProxy } from './support.js';

let fake: FakeAws;
let run: RunningProxy;

beforeAll(async () => {
  fake = await startFakeAws(REAL);
  fake.objects.set('confine-bucket/config/settings.json', { body: '{"size":"small"}', contentType: 'application/json' });
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  await closeProxy(run);
});

const ec2 = (action: string, extra: Record<string, string> = {}) => ({ service: 'ec2', form: { Action: action, Version: '2016-11-15', ...extra } });

describe('egress proxy: allowed reads', () => {
  it('sts_get_caller_identity_is_resigned_with_real_credentials_and_answered', async () => {
    run = await openProxy(fake.url);
    const before = fake.requests.length;
    const answer = await send({ service: 'sts', form: { Action: 'GetCallerIdentity', Version: '2011-06-15' } }, run);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<Account>123456789012</Account>');
    const upstream = fake.requests.slice(before);
    expect(upstream).toHaveLength(1);
    expect(upstream[0]?.signatureOk).toBe(true);
    expect(upstream[0]?.headers.authorization).toContain(`Credential=${REAL.aws_access_key_id}/`);
    expect(upstream[0]?.headers['x-amz-security-token']).toBe(REAL.aws_session_token);
    expect(run.proxy.calls()).toEqual([
      expect.objectContaining({ service: 'sts', action: 'GetCallerIdentity', region: 'us-east-1', method: 'POST', status: 200, allowed: true }),
    ]);
    expect(run.proxy.calls()[0]?.bytes).toBeGreaterThan(0);
    expect(run.proxy.calls()[0]?.reason).toBeUndefined();
  });

  it('ec2_describe_calls_of_the_data_sources_are_answered', async () => {
    run = await openProxy(fake.url);
    for (const [action, marker] of [
      ['DescribeAvailabilityZones', '<zoneName>us-east-1a</zoneName>'],
      ['DescribeImages', '<imageId>ami-0abcdef1234567890</imageId>'],
      ['DescribeVpcs', '<vpcId>vpc-0a1b2c3d4e5f67890</vpcId>'],
    ] as const) {
      const answer = await send(ec2(action), run);
      expect(answer.status, action).toBe(200);
      expect(answer.body).toContain(marker);
    }
    expect(run.proxy.calls().map((c) => [c.action, c.allowed, c.status])).toEqual([
      ['DescribeAvailabilityZones', true, 200],
      ['DescribeImages', true, 200],
      ['DescribeVpcs', true, 200],
    ]);
  });

  it('s3_head_and_get_of_an_object_path_style_are_answered', async () => {
    run = await openProxy(fake.url);
    const path = '/confine-bucket/config/settings.json';
    const head = await send({ service: 's3', method: 'HEAD', path }, run);
    const get = await send({ service: 's3', method: 'GET', path }, run);
    expect(head.status).toBe(200);
    expect(get.status).toBe(200);
    expect(get.body).toBe('{"size":"small"}');
    expect(run.proxy.calls().map((c) => [c.service, c.action, c.allowed])).toEqual([
      ['s3', 'HEAD', true],
      ['s3', 'GET', true],
    ]);
  });

  it('s3_key_with_dot_segments_and_escapes_is_signed_as_sent', async () => {
    run = await openProxy(fake.url);
    fake.objects.set('confine-bucket/a/../odd key+1.txt', { body: 'odd', contentType: 'text/plain' });
    const answer = await send({ service: 's3', method: 'GET', path: '/confine-bucket/a/../odd%20key%2B1.txt' }, run);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('odd');
    expect(fake.requests.at(-1)?.signatureOk).toBe(true);
  });

  it('second_region_in_the_list_is_answered', async () => {
    run = await openProxy(fake.url);
    const answer = await send({ ...ec2('DescribeAvailabilityZones'), region: 'eu-west-1' }, run);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<zoneName>eu-west-1a</zoneName>');
  });
});

describe('egress proxy: refusals', () => {
  const refusals: { name: string; call: Call; code: string; reason: string }[] = [
    { name: 'non_allowlisted_service_is_refused_access_denied', call: { service: 'iam', form: { Action: 'GetUser', Version: '2010-05-08' } }, code: '<Code>AccessDenied</Code>', reason: 'service iam is not allowlisted' },
    { name: 'ec2_run_instances_write_is_refused_unauthorized_operation', call: ec2('RunInstances', { ImageId: 'ami-1', MinCount: '1', MaxCount: '1' }), code: '<Code>UnauthorizedOperation</Code>', reason: 'ec2:RunInstances is not a read-only call' },
    { name: 'sts_assume_role_is_refused_access_denied', call: { service: 'sts', form: { Action: 'AssumeRole', RoleArn: 'arn:aws:iam::123456789012:role/admin', RoleSessionName: 'x' } }, code: '<Code>AccessDenied</Code>', reason: 'sts:AssumeRole is not a read-only call' },
    { name: 'sts_get_session_token_credential_minting_read_is_refused', call: { service: 'sts', form: { Action: 'GetSessionToken' } }, code: '<Code>AccessDenied</Code>', reason: 'sts:GetSessionToken returns credentials' },
    { name: 's3_put_object_is_refused_access_denied', call: { service: 's3', method: 'PUT', path: '/confine-bucket/stolen.txt', body: 'exfiltrated' }, code: '<Code>AccessDenied</Code>', reason: 's3:PUT is not a read-only call' },
    { name: 's3_delete_object_is_refused_access_denied', call: { service: 's3', method: 'DELETE', path: '/confine-bucket/config/settings.json' }, code: '<Code>AccessDenied</Code>', reason: 's3:DELETE is not a read-only call' },
    { name: 'region_outside_the_list_is_refused_access_denied', call: { ...ec2('DescribeVpcs'), region: 'ap-southeast-2' }, code: '<Code>UnauthorizedOperation</Code>', reason: 'region ap-southeast-2 is not allowlisted' },
    { name: 'json_protocol_write_is_refused_access_denied_json', call: { service: 'dynamodb', headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-type': 'application/x-amz-json-1.0' }, body: '{"TableName":"t"}' }, code: '"__type":"AccessDeniedException"', reason: 'service dynamodb is not allowlisted' },
  ];
  for (const refused of refusals) {
    it(refused.name, async () => {
      run = await openProxy(fake.url);
      const before = fake.requests.length;
      const answer = await send(refused.call, run);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain(refused.code);
      expect(answer.body).toContain('confine egress');
      // Nothing was sent upstream on the jail's behalf.
      expect(fake.requests.length).toBe(before);
      const calls = run.proxy.calls();
      expect(calls).toHaveLength(1);
      expect(calls[0]?.allowed).toBe(false);
      expect(calls[0]?.status).toBe(403);
      expect(calls[0]?.reason).toContain(refused.reason);
    });
  }

  it('json_protocol_read_refused_by_region_gets_json_access_denied', async () => {
    run = await openProxy(fake.url, { policy: { services: ['dynamodb'], regions: ['us-east-1'], actions: [] } });
    const answer = await send({ service: 'dynamodb', region: 'eu-west-1', headers: { 'x-amz-target': 'DynamoDB_20120810.DescribeTable', 'content-type': 'application/x-amz-json-1.0' }, body: '{"TableName":"t"}' }, run);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ __type: 'AccessDeniedException', message: 'confine egress: region eu-west-1 is not allowlisted' });
  });

  it('operator_extra_action_allows_a_named_call_only', async () => {
    run = await openProxy(fake.url, { policy: { services: ['sts'], regions: ['us-east-1'], actions: ['sts:GetSessionToken'] } });
    await send({ service: 'sts', form: { Action: 'GetSessionToken' } }, run);
    await send({ service: 'sts', form: { Action: 'GetFederationToken', Name: 'x' } }, run);
    expect(run.proxy.calls().map((c) => [c.action, c.allowed])).toEqual([
      ['GetSessionToken', true],
      ['GetFederationToken', false],
    ]);
  });
});

// The proxy's pure rules, case by case: scope parsing (what may become a host name), action detection
// per protocol, the read-only allowlist, and where each service's real endpoint is.
import { describe, expect, it } from 'vitest';
import { detectAction } from '../../src/egress/action.js';
import { checkUpstream, endpointFor } from '../../src/egress/endpoint.js';
import { decide, DEFAULT_EGRESS_POLICY } from '../../src/egress/policy.js';
import { parseAuthorization } from '../../src/egress/scope.js';

const auth = (scope: string) => `AWS4-HMAC-SHA256 Credential=AKIAPLACEHOLDER00000/${scope}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123`;

describe('SigV4 scope', () => {
  it('well_formed_scope_is_read', () => {
    expect(parseAuthorization(auth('20261129/eu-west-1/ec2'))).toEqual({
      ok: true,
      scope: { accessKeyId: 'AKIAPLACEHOLDER00000', date: '20261129', region: 'eu-west-1', service: 'ec2', signedHeaders: ['host', 'x-amz-date'], signature: 'abc123' },
    });
  });

  it('hostile_scopes_are_refused', () => {
    for (const scope of ['20261129/us-east-1/evil.com', '20261129/us-east-1/s3#', '20261129/127.0.0.1/sts', '20261129/us-east-1@evil/sts', 'x/us-east-1/sts', '20261129/us-east-1/']) {
      expect(parseAuthorization(auth(scope)).ok, scope).toBe(false);
    }
    expect(parseAuthorization('AWS4-HMAC-SHA256 Credential=a/b').ok).toBe(false);
    expect(parseAuthorization('Basic dXNlcjpwYXNz').ok).toBe(false);
    expect(parseAuthorization(undefined).ok).toBe(false);
    expect(parseAuthorization(auth('20261129/us-east-1/sts') + 'x'.repeat(5000)).ok).toBe(false);
  });
});

describe('action detection', () => {
  const base = { service: 'sts', method: 'POST', query: new URLSearchParams(), contentType: 'application/x-www-form-urlencoded; charset=utf-8', target: undefined, body: Buffer.alloc(0) };

  it('query_protocol_action_comes_from_the_form_body', () => {
    expect(detectAction({ ...base, body: Buffer.from('Action=GetCallerIdentity&Version=2011-06-15') })).toEqual({ ok: true, detected: { protocol: 'query', action: 'GetCallerIdentity' } });
    expect(detectAction({ ...base, service: 'ec2', body: Buffer.from('Action=DescribeVpcs') })).toEqual({ ok: true, detected: { protocol: 'ec2', action: 'DescribeVpcs' } });
  });

  it('two_actions_in_one_request_are_refused', () => {
    expect(detectAction({ ...base, query: new URLSearchParams('Action=RunInstances'), body: Buffer.from('Action=DescribeVpcs') }).ok).toBe(false);
    expect(detectAction({ ...base, body: Buffer.from('Action=DescribeVpcs&Action=RunInstances') }).ok).toBe(false);
  });

  it('json_protocol_action_comes_from_x_amz_target', () => {
    expect(detectAction({ ...base, service: 'dynamodb', contentType: 'application/x-amz-json-1.0', target: 'DynamoDB_20120810.DescribeTable' })).toEqual({ ok: true, detected: { protocol: 'json', action: 'DescribeTable' } });
  });

  it('rest_action_is_the_method', () => {
    expect(detectAction({ ...base, service: 's3', method: 'DELETE', contentType: undefined })).toEqual({ ok: true, detected: { protocol: 'rest', action: 'DELETE' } });
    // A form content type without an Action is not a way around the method rule.
    expect(detectAction({ ...base, service: 's3', method: 'PUT', body: Buffer.from('x=1') }).ok).toBe(false);
    // Nor is a GET whose body names a write without a form content type.
    expect(detectAction({ ...base, service: 'ec2', method: 'GET', contentType: undefined, body: Buffer.from('Action=RunInstances') }).ok).toBe(false);
  });
});

describe('read-only allowlist', () => {
  const policy = { ...DEFAULT_EGRESS_POLICY, services: ['sts', 'ec2', 's3', 'iam'] };
  const check = (service: string, action: string, protocol: 'query' | 'ec2' | 'json' | 'rest' = 'query') => decide(policy, { service, region: 'us-east-1', protocol, action }).allowed;

  it('reads_are_allowed_writes_refused', () => {
    expect(check('ec2', 'DescribeVpcs', 'ec2')).toBe(true);
    expect(check('iam', 'ListRoles')).toBe(true);
    expect(check('sts', 'GetCallerIdentity')).toBe(true);
    expect(check('s3', 'GET', 'rest')).toBe(true);
    expect(check('s3', 'HEAD', 'rest')).toBe(true);
    expect(check('ec2', 'RunInstances', 'ec2')).toBe(false);
    expect(check('ec2', 'Describe', 'ec2')).toBe(false);
    expect(check('iam', 'CreateAccessKey')).toBe(false);
    expect(check('s3', 'POST', 'rest')).toBe(false);
    // "Get" in the middle of a name is not a read.
    expect(check('ec2', 'ResetGetThing', 'ec2')).toBe(false);
  });

  it('credential_minting_reads_are_refused_by_default', () => {
    for (const action of ['GetSessionToken', 'GetFederationToken']) expect(check('sts', action)).toBe(false);
  });

  it('operator_actions_add_exact_names_and_prefixes', () => {
    const extra = { ...policy, actions: ['ec2:CreateTags', 'iam:Simulate*'] };
    expect(decide(extra, { service: 'ec2', region: 'us-east-1', protocol: 'ec2', action: 'CreateTags' }).allowed).toBe(true);
    expect(decide(extra, { service: 'iam', region: 'us-east-1', protocol: 'query', action: 'SimulatePrincipalPolicy' }).allowed).toBe(true);
    expect(decide(extra, { service: 'ec2', region: 'us-east-1', protocol: 'ec2', action: 'CreateTagsX' }).allowed).toBe(false);
  });
});

describe('endpoints', () => {
  it('real_endpoints_are_regional_with_iam_global', () => {
    expect(endpointFor('ec2', 'eu-west-1', undefined).href).toBe('https://ec2.eu-west-1.amazonaws.com/');
    expect(endpointFor('s3', 'us-east-1', undefined).href).toBe('https://s3.us-east-1.amazonaws.com/');
    expect(endpointFor('sts', 'us-east-1', undefined).href).toBe('https://sts.us-east-1.amazonaws.com/');
    expect(endpointFor('iam', 'us-east-1', undefined).href).toBe('https://iam.amazonaws.com/');
    expect(endpointFor('ec2', 'eu-west-1', 'http://127.0.0.1:9000').href).toBe('http://127.0.0.1:9000/');
  });

  it('upstream_override_must_be_an_http_origin', () => {
    expect(checkUpstream('https://aws.internal.example:8443').origin).toBe('https://aws.internal.example:8443');
    for (const bad of ['file:///etc/passwd', 'http://user:pw@host', 'http://host/path', 'http://host/?q=1', 'not a url']) {
      expect(() => checkUpstream(bad), bad).toThrow();
    }
  });
});

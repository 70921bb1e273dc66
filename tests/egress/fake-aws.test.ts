// The fake upstream must be a fair judge: it accepts the real credentials' signature and refuses the
// placeholder's, or the proxy tests would prove nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, send, signedPlaceholder } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { REAL } from './support.js';

let fake: FakeAws;
const real = { accessKeyId: REAL.aws_access_key_id, secretAccessKey: REAL.aws_secret_access_key, sessionToken: REAL.aws_session_token ?? '' };
const identity = { service: 'sts', form: { Action: 'GetCallerIdentity', Version: '2011-06-15' } };

beforeAll(async () => {
  fake = await startFakeAws(REAL);
});
afterAll(async () => {
  await fake.close();
});

describe('fake AWS upstream', () => {
  it('real_credentials_signature_is_accepted', async () => {
    const signed = await signedPlaceholder(identity, new URL(fake.url).host, real);
    const answer = await raw(signed, { origin: fake.url });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<Account>123456789012</Account>');
    expect(fake.requests.at(-1)?.signatureOk).toBe(true);
  });

  it('placeholder_signed_request_is_refused_signature_does_not_match', async () => {
    const answer = await send(identity, { origin: fake.url });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('SignatureDoesNotMatch');
    expect(fake.requests.at(-1)?.signatureOk).toBe(false);
  });

  it('tampered_body_after_real_signature_is_refused_signature_does_not_match', async () => {
    const signed = await signedPlaceholder({ service: 'ec2', form: { Action: 'DescribeVpcs', Version: '2016-11-15' } }, new URL(fake.url).host, real);
    const answer = await raw({ ...signed, body: signed.body.replace('DescribeVpcs', 'DescribeVpcz') }, { origin: fake.url });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('SignatureDoesNotMatch');
  });

  it('unsigned_request_is_refused_signature_does_not_match', async () => {
    const answer = await fetch(`${fake.url}/`, { method: 'POST', body: 'Action=GetCallerIdentity' });
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain('SignatureDoesNotMatch');
  });
});

// Per-run caps: a jail looping on an allowed call (exfiltration by volume, a bill) stops at its request
// and byte caps, and a slow upstream at the time cap; another run's proxy is answered normally meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from './client.js';
import { startFakeAws, type FakeAws } from './fake-aws.js';
import { CAPS, closeProxy, openProxy, REAL } from './support.js';

let fake: FakeAws;
beforeAll(async () => {
  fake = await startFakeAws(REAL);
});
afterAll(async () => {
  await fake.close();
});

const identity = { service: 'sts', form: { Action: 'GetCallerIdentity', Version: '2011-06-15' } };
const vpcs = { service: 'ec2', form: { Action: 'DescribeVpcs', Version: '2016-11-15' } };

describe('egress proxy caps', () => {
  it('calls_over_the_request_cap_are_refused_while_another_run_is_answered', async () => {
    const capped = await openProxy(fake.url, { caps: { ...CAPS, requests: 2 } });
    const other = await openProxy(fake.url);
    try {
      const before = fake.requests.length;
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await send(identity, capped));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 403, 403]);
      expect(answers[2]?.body).toContain('<Code>AccessDenied</Code>');
      expect(fake.requests.length - before).toBe(2);
      const calls = capped.proxy.calls();
      expect(calls.map((c) => c.allowed)).toEqual([true, true, false, false]);
      expect(calls[2]?.reason).toBe('request cap reached for this run');
      const meanwhile = await send(identity, other);
      expect(meanwhile.status).toBe(200);
      expect(other.proxy.calls()).toEqual([expect.objectContaining({ action: 'GetCallerIdentity', allowed: true, status: 200 })]);
    } finally {
      await closeProxy(capped);
      await closeProxy(other);
    }
  });

  it('answer_over_the_byte_cap_is_cut_off_and_later_calls_refused', async () => {
    const bytes = 4096;
    const run = await openProxy(fake.url, { caps: { ...CAPS, bytes } });
    fake.padBytes = bytes * 4;
    try {
      const first = await send(vpcs, run).then(
        (answer) => answer.body.length,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      // The jail got at most the cap (a cut connection or a short body), never the whole padded answer.
      if (typeof first === 'number') expect(first).toBeLessThanOrEqual(bytes);
      fake.padBytes = 0;
      const second = await send(vpcs, run);
      expect(second.status).toBe(403);
      expect(second.body).toContain('byte cap reached for this run');
      const calls = run.proxy.calls();
      expect(calls).toHaveLength(2);
      expect(calls[0]).toEqual(expect.objectContaining({ action: 'DescribeVpcs', allowed: false, status: 200, reason: 'byte cap reached for this run' }));
      expect(calls[0]?.bytes).toBeGreaterThan(bytes);
      expect(calls[1]).toEqual(expect.objectContaining({ allowed: false, status: 403, reason: 'byte cap reached for this run' }));
    } finally {
      fake.padBytes = 0;
      await closeProxy(run);
    }
  });

  it('call_slower_than_the_time_cap_is_cut_off_with_a_named_502', async () => {
    const ms = 300;
    const run = await openProxy(fake.url, { caps: { ...CAPS, ms } });
    fake.delayMs = ms * 5;
    try {
      const answer = await send(identity, run);
      expect(answer.status).toBe(502);
      expect(answer.body).toContain(`call took longer than ${ms} ms`);
      const calls = run.proxy.calls();
      expect(calls).toEqual([expect.objectContaining({ action: 'GetCallerIdentity', allowed: true, status: 502, reason: `call took longer than ${ms} ms` })]);
      expect(calls[0]?.ms).toBeLessThan(ms * 5);
    } finally {
      fake.delayMs = 0;
      await closeProxy(run);
    }
  });
});

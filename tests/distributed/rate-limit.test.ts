// One tenant's rate limit holds across API nodes (issue 12): 1,000 requests spread over two API processes
// admit exactly RATE_LIMIT_REQUESTS (the counter lives in Redis, not once per node), and every answer is
// in the closed set 2xx / 429 / 503.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_KEY_A, DIST_KEY_B, killAllNodes, startCluster, type Cluster } from './cluster.js';

const LIMIT = 300;
const REQUESTS = 1_000;

let cluster: Cluster;

beforeAll(async () => {
  // A window far longer than the test: no reset may happen in the middle of the count.
  cluster = await startCluster({ slot: 2, workers: 1, env: { RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '3600' } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  killAllNodes();
}, 60_000);

describe('rate limit across API nodes', () => {
  it('thousand_requests_over_two_nodes_admit_exactly_the_limit_while_another_tenant_is_served', async () => {
    const bases = cluster.api.map((n) => n.base);
    const statuses: number[] = [];
    let next = 0;
    // 32 clients at a time, alternating nodes, the way a load balancer would spread them.
    const client = async (): Promise<void> => {
      for (let i = next++; i < REQUESTS; i = next++) {
        const response = await fetch(`${bases[i % bases.length]!}/status`, { headers: { 'x-api-key': DIST_KEY_A } });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    };
    // While tenant A floods both nodes, tenant B runs a real command through each node and is answered.
    const bravo = Promise.all(bases.map(async (base) => {
      const r = await fetch(`${base}/api/v1/runs/commands?wait=true`, {
        method: 'POST',
        headers: { 'x-api-key': DIST_KEY_B, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'echo bravo' }),
      });
      return { status: r.status, body: (await r.json()) as { state?: string; result?: { run?: { stdout?: string } } } };
    }));
    await Promise.all(Array.from({ length: 32 }, client));
    for (const answer of await bravo) {
      expect(answer.status).toBe(200);
      expect(answer.body.state).toBe('succeeded');
      expect(answer.body.result?.run?.stdout).toBe('bravo\n');
    }
    expect(statuses).toHaveLength(REQUESTS);
    const odd = statuses.filter((s) => !(s >= 200 && s < 300) && s !== 429 && s !== 503);
    expect(odd, JSON.stringify(odd.slice(0, 10))).toEqual([]);
    const admitted = statuses.filter((s) => s >= 200 && s < 300).length;
    const unavailable = statuses.filter((s) => s === 503).length;
    expect(unavailable).toBe(0); // Redis stayed up: nothing was refused for its absence
    expect(admitted).toBe(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(REQUESTS - LIMIT);
    // Another tenant's budget is its own, on either node.
    for (const base of bases) {
      const r = await fetch(`${base}/status`, { headers: { 'x-api-key': DIST_KEY_B } });
      expect(r.status).toBe(200);
      expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeLessThan(LIMIT);
    }
    const refused = await fetch(`${bases[0]!}/status`, { headers: { 'x-api-key': DIST_KEY_A } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  }, 120_000);
});

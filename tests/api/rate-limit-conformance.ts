// The conformance suite every RateLimit implementation passes (memory for one process, Redis for many API
// nodes): call `rateLimitConformance('name', factory)` from an implementation's test file. The factory
// gets the options and returns a limiter plus `peer()`, a second handle on the same counters (another API
// node's limiter on the same Redis; the same object in memory), so "shared across nodes" is tested too.
import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimit, RateLimitOptions } from '../../src/api/rate-limit.js';

export interface RateLimitHandles {
  limiter: RateLimit;
  peer(): Promise<RateLimit>;
  close(): Promise<void>;
}

export type RateLimitFactory = (options: RateLimitOptions) => Promise<RateLimitHandles>;

let keys = 0;
/** A key no earlier test used (a Redis under test is shared by the file's tests). */
function freshKey(label: string): string {
  return `${label}-${process.pid}-${++keys}-${Math.random().toString(36).slice(2, 8)}`;
}

export function rateLimitConformance(name: string, factory: RateLimitFactory): void {
  describe(`RateLimit conformance: ${name}`, () => {
    const made: RateLimitHandles[] = [];
    const create = async (options: RateLimitOptions): Promise<RateLimitHandles> => {
      const handles = await factory(options);
      made.push(handles);
      return handles;
    };
    afterEach(async () => {
      for (const handles of made.splice(0)) await handles.close();
    });

    it('hits_upToTheLimit_areAllowed_thenRefusedWithRemainingAndReset', async () => {
      const { limiter } = await create({ limit: 3, windowSeconds: 60 });
      const key = freshKey('tenant');
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push(await limiter.hit(key));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
      expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0, 0]);
      for (const decision of decisions) {
        expect(decision.limit).toBe(3);
        // Whole seconds until the window ends: at least 1 (Retry-After), never past the window.
        expect(decision.resetSeconds).toBeGreaterThanOrEqual(1);
        expect(decision.resetSeconds).toBeLessThanOrEqual(60);
        expect(Number.isInteger(decision.resetSeconds)).toBe(true);
      }
    });

    it('keys_areIsolated_oneTenantsExhaustedBudgetLeavesAnothersWhole', async () => {
      const { limiter } = await create({ limit: 2, windowSeconds: 60 });
      const [a, b] = [freshKey('a'), freshKey('b')];
      await limiter.hit(a);
      await limiter.hit(a);
      expect((await limiter.hit(a)).allowed).toBe(false);
      const other = await limiter.hit(b);
      expect(other).toMatchObject({ allowed: true, remaining: 1 });
    });

    it('window_whenItEnds_admitsTheKeyAgainWithAFullBudget', async () => {
      const { limiter } = await create({ limit: 1, windowSeconds: 1 });
      const key = freshKey('expiring');
      expect((await limiter.hit(key)).allowed).toBe(true);
      const refused = await limiter.hit(key);
      expect(refused.allowed).toBe(false);
      expect(refused.resetSeconds).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(await limiter.hit(key)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('concurrentHits_throughTwoHandles_admitExactlyTheLimit', async () => {
      const handles = await create({ limit: 25, windowSeconds: 60 });
      const peer = await handles.peer();
      const key = freshKey('shared');
      const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? handles.limiter : peer).hit(key)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
      // Every remaining count from 24 down to 0 was handed out exactly once: no two hits shared a slot.
      expect(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    });
  });
}

// The conformance suite every SessionRegistry passes (memory for one process, Redis for many hosts): call
// `sessionRegistryConformance('name', factory)`. The factory gets the limits and a clock and returns a
// fresh, empty registry plus `peer()`, a second handle on the same state (another API node or a worker on
// the same Redis; the same object in memory), so "every node sees it" is what is tested.
import { afterEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domains/errors.js';
import type { SessionClosed, SessionRegistry, SessionRegistryLimits } from '../../src/sessions/registry.js';

export interface RegistryHandles {
  registry: SessionRegistry;
  peer(): Promise<SessionRegistry>;
}

export type RegistryFactory = (limits: SessionRegistryLimits, now: () => number) => Promise<RegistryHandles>;

const LIMITS: SessionRegistryLimits = { ttlMs: 60_000, maxAgeMs: 0, maxSessions: 16, maxPerTenant: 4 };

const isLimit = (e: unknown): boolean => e instanceof DomainError && e.type === 'resource_limit';

export function sessionRegistryConformance(name: string, factory: RegistryFactory): void {
  describe(`SessionRegistry conformance: ${name}`, () => {
    const made: SessionRegistry[] = [];
    const clock = { now: 0 };
    const create = async (overrides: Partial<SessionRegistryLimits> = {}): Promise<RegistryHandles> => {
      clock.now = Date.now();
      const handles = await factory({ ...LIMITS, ...overrides }, () => clock.now);
      made.push(handles.registry);
      return {
        registry: handles.registry,
        peer: async () => {
          const peer = await handles.peer();
          made.push(peer);
          return peer;
        },
      };
    };
    afterEach(async () => {
      for (const registry of made.splice(0)) await registry.dispose();
    });

    it('open_unnamed_createsDistinctSessionsThatLiveForTheTtl', async () => {
      const { registry } = await create();
      const [a, b] = [await registry.open('alice'), await registry.open('alice')];
      expect(a.id).toMatch(/^[0-9a-f]{32}$/);
      expect(b.id).not.toBe(a.id);
      expect(a).toMatchObject({ tenant: 'alice', createdAtMs: clock.now, expiresAtMs: clock.now + LIMITS.ttlMs });
      expect(a.name).toBeUndefined();
      expect(a.host).toBeUndefined();
      expect((await registry.list('alice')).map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    });

    it('open_sameNameConcurrentlyOnTwoHandles_isOneSession', async () => {
      const { registry, peer } = await create();
      const other = await peer();
      const opened = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? registry : other).open('alice', 'build-42')));
      expect(new Set(opened.map((s) => s.id)).size).toBe(1);
      expect(opened[0]!.name).toBe('build-42');
      expect(await registry.list('alice')).toHaveLength(1);
      // Resolvable by name and by id, from either handle.
      expect((await other.get('alice', 'build-42'))?.id).toBe(opened[0]!.id);
      expect((await registry.get('alice', opened[0]!.id))?.name).toBe('build-42');
    });

    it('namesAndIds_areTenantScoped_otherTenantsAreNotFound', async () => {
      const { registry } = await create();
      const alice = await registry.open('alice', 'shared-name');
      const mallory = await registry.open('mallory', 'shared-name');
      expect(mallory.id).not.toBe(alice.id);
      expect(await registry.get('mallory', alice.id)).toBeUndefined();
      expect(await registry.touch('mallory', alice.id)).toBeUndefined();
      expect(await registry.close('mallory', alice.id)).toBeUndefined();
      expect((await registry.get('alice', 'shared-name'))?.id).toBe(alice.id);
      expect((await registry.list('mallory')).map((s) => s.id)).toEqual([mallory.id]);
      await expect(registry.open('alice', '../etc')).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.type === 'validation_error');
      expect(await registry.get('alice', '../etc')).toBeUndefined();
    });

    it('touch_refreshesTheTtl_getDoesNot_andNeitherPassesTheMaxAge', async () => {
      const { registry } = await create({ ttlMs: 1_000, maxAgeMs: 2_500 });
      const session = await registry.open('alice', 'aging');
      expect(session.expiresAtMs).toBe(session.createdAtMs + 1_000);
      clock.now += 800;
      expect((await registry.get('alice', 'aging'))?.expiresAtMs).toBe(session.createdAtMs + 1_000);
      expect((await registry.touch('alice', 'aging'))?.expiresAtMs).toBe(clock.now + 1_000);
      for (let i = 0; i < 3; i++) {
        clock.now += 500;
        expect(await registry.touch('alice', session.id)).toBeDefined();
      }
      // Used all along, yet it ends at its absolute age.
      expect((await registry.get('alice', 'aging'))?.expiresAtMs).toBe(session.createdAtMs + 2_500);
      clock.now = session.createdAtMs + 2_500;
      expect(await registry.touch('alice', 'aging')).toBeUndefined();
    });

    it('expiredSession_isNotFoundAndFreesItsSlotAndItsName', async () => {
      const { registry } = await create({ ttlMs: 1_000, maxPerTenant: 1 });
      const first = await registry.open('alice', 'short');
      await expect(registry.open('alice')).rejects.toSatisfy(isLimit);
      clock.now += 1_000;
      expect(await registry.get('alice', 'short')).toBeUndefined();
      expect(await registry.list('alice')).toEqual([]);
      const again = await registry.open('alice', 'short');
      expect(again.id).not.toBe(first.id);
    });

    it('bounds_underConcurrentOpensOnTwoHandles_holdExactly', async () => {
      const { registry, peer } = await create({ maxSessions: 5, maxPerTenant: 3 });
      const other = await peer();
      const burst = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? registry : other).open('carol')));
      expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      expect(burst.filter((r) => r.status === 'rejected').every((r) => isLimit((r as PromiseRejectedResult).reason))).toBe(true);
      await registry.open('dave');
      await other.open('dave');
      // The service bound (5) is reached: a third tenant is refused although its own share is empty.
      await expect(registry.open('erin')).rejects.toSatisfy((e: unknown) => isLimit(e) && String((e as Error).message).includes('service'));
      const closed = await registry.close('carol', (await registry.list('carol'))[0]!.id);
      expect(closed?.tenant).toBe('carol');
      expect((await other.open('erin')).tenant).toBe('erin');
    });

    it('close_removesTheSessionEverywhereAndTellsSubscribersOnAnotherHandle', async () => {
      const { registry, peer } = await create();
      const worker = await peer();
      const heard: SessionClosed[] = [];
      const unsubscribe = await worker.onClosed((closed) => heard.push(closed));
      const session = await registry.open('alice', 'doomed');
      expect(await worker.bind(session.id, 'worker-1')).toBe('worker-1');
      expect((await registry.close('alice', 'doomed'))?.id).toBe(session.id);
      expect(await worker.get('alice', session.id)).toBeUndefined();
      expect(await registry.close('alice', 'doomed')).toBeUndefined();
      const deadline = Date.now() + 5_000;
      while (heard.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(heard).toEqual([{ id: session.id, tenant: 'alice', host: 'worker-1' }]);
      await unsubscribe();
      await registry.close('alice', (await registry.open('alice')).id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(heard).toHaveLength(1);
    });

    it('bind_racingWorkers_firstBinderWinsAndEveryoneIsToldTheWinner', async () => {
      const { registry, peer } = await create();
      const other = await peer();
      const session = await registry.open('alice');
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? registry : other).bind(session.id, `worker-${i}`)));
      expect(new Set(answers).size).toBe(1);
      const winner = answers[0]!;
      expect(winner).toMatch(/^worker-\d$/);
      expect((await other.get('alice', session.id))?.host).toBe(winner);
      // Binding keeps the TTL and the rest of the record.
      expect((await registry.get('alice', session.id))?.expiresAtMs).toBe(session.expiresAtMs);
      expect(await registry.bind('0'.repeat(32), 'worker-0')).toBeUndefined();
      clock.now += LIMITS.ttlMs;
      expect(await registry.bind(session.id, 'worker-9')).toBeUndefined();
    });

    it('forHost_listsTheLiveSessionsBoundToThatWorkerOnly', async () => {
      const { registry, peer } = await create({ ttlMs: 1_000 });
      const other = await peer();
      const [a, b, c] = [await registry.open('alice'), await registry.open('bob'), await registry.open('bob', 'c')];
      await other.bind(a.id, 'w1');
      await other.bind(b.id, 'w2');
      await registry.bind(c.id, 'w1');
      expect((await registry.forHost('w1')).map((s) => s.id).sort()).toEqual([a.id, c.id].sort());
      expect((await other.forHost('w2')).map((s) => s.id)).toEqual([b.id]);
      expect(await registry.forHost('w3')).toEqual([]);
      clock.now += 500;
      await registry.touch('alice', a.id);
      clock.now += 600;
      expect((await registry.forHost('w1')).map((s) => s.id)).toEqual([a.id]);
    });
  });
}

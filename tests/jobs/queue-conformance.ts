// The conformance suite every JobQueue adapter must pass (memory now, Redis/BullMQ later): call
// `queueConformance('name', factory)` from an adapter's test file. The factory gets the limits and
// returns a fresh, empty queue; `dispose` (optional) releases whatever the adapter holds.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobQueue, QueueEntry, QueueLimits } from '../../src/jobs/queue.js';

export interface QueueFactory {
  create(limits: QueueLimits): Promise<JobQueue<{ n: number }>>;
  dispose?(queue: JobQueue<{ n: number }>): Promise<void>;
}

function entry(id: string, tenant: string, n = 0): QueueEntry<{ n: number }> {
  return { id, tenant, payload: { n } };
}

function sized(id: string, tenant: string, bytes: number): QueueEntry<{ n: number }> {
  return { id, tenant, payload: { n: 0 }, bytes };
}

export function queueConformance(name: string, factory: QueueFactory): void {
  describe(`JobQueue conformance: ${name}`, () => {
    const made: JobQueue<{ n: number }>[] = [];
    const create = async (limits: QueueLimits): Promise<JobQueue<{ n: number }>> => {
      const queue = await factory.create(limits);
      made.push(queue);
      return queue;
    };
    afterEach(async () => {
      for (const queue of made.splice(0)) {
        await queue.close();
        await factory.dispose?.(queue);
      }
    });

    it('claim_returnsEntriesInFifoOrderWithPayload', async () => {
      const queue = await create({ capacity: 10, perTenant: 10 });
      for (let n = 0; n < 5; n++) expect(await queue.enqueue(entry(`id${n}`, 't', n))).toEqual({ accepted: true });
      const claimed = [];
      for (let n = 0; n < 5; n++) claimed.push(await queue.claim());
      expect(claimed.map((e) => e?.id)).toEqual(['id0', 'id1', 'id2', 'id3', 'id4']);
      expect(claimed.map((e) => e?.payload.n)).toEqual([0, 1, 2, 3, 4]);
      expect(claimed.every((e) => e?.tenant === 't')).toBe(true);
      expect(await queue.size()).toBe(0);
    });

    it('claim_takesTenantsInTurn_soOneTenantsBacklogDoesNotDelayAnother', async () => {
      const queue = await create({ capacity: 20, perTenant: 10 });
      for (const [id, tenant] of [['a1', 'a'], ['a2', 'a'], ['a3', 'a'], ['a4', 'a'], ['b1', 'b'], ['c1', 'c'], ['b2', 'b'], ['a5', 'a']] as const) {
        expect((await queue.enqueue(entry(id, tenant))).accepted).toBe(true);
      }
      const order = [];
      for (let i = 0; i < 8; i++) order.push((await queue.claim())?.id);
      // a's backlog of four does not hold b and c back: one entry per tenant per round, each tenant FIFO.
      expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']);
      // A tenant arriving later waits for one round (one entry of each tenant ahead), not for the backlog.
      for (const id of ['a6', 'a7', 'a8']) await queue.enqueue(entry(id, 'a'));
      await queue.claim();
      await queue.enqueue(entry('d1', 'd'));
      expect([(await queue.claim())?.id, (await queue.claim())?.id, (await queue.claim())?.id]).toEqual(['a7', 'd1', 'a8']);
    });

    it('remove_lastEntryOfATenant_takesItOutOfTheTurns', async () => {
      const queue = await create({ capacity: 10, perTenant: 10 });
      await queue.enqueue(entry('a1', 'a'));
      await queue.enqueue(entry('b1', 'b'));
      await queue.enqueue(entry('a2', 'a'));
      expect(await queue.remove('b1')).toBe(true);
      expect([(await queue.claim())?.id, (await queue.claim())?.id]).toEqual(['a1', 'a2']);
      expect(await queue.size()).toBe(0);
    });

    it('enqueue_beyondCapacity_isRejectedAsService', async () => {
      const queue = await create({ capacity: 3, perTenant: 3 });
      const tenants = ['a', 'b', 'c', 'd', 'e'];
      const results = [];
      for (const [i, tenant] of tenants.entries()) results.push(await queue.enqueue(entry(`id${i}`, tenant)));
      expect(results.slice(0, 3).every((r) => r.accepted)).toBe(true);
      expect(results.slice(3)).toEqual([{ accepted: false, reason: 'service' }, { accepted: false, reason: 'service' }]);
      expect(await queue.size()).toBe(3);
    });

    it('enqueue_beyondTenantShare_isRejectedAsTenantWhileOthersStillFit', async () => {
      const queue = await create({ capacity: 10, perTenant: 2 });
      expect((await queue.enqueue(entry('a1', 'a'))).accepted).toBe(true);
      expect((await queue.enqueue(entry('a2', 'a'))).accepted).toBe(true);
      expect(await queue.enqueue(entry('a3', 'a'))).toEqual({ accepted: false, reason: 'tenant' });
      expect((await queue.enqueue(entry('b1', 'b'))).accepted).toBe(true);
      expect(await queue.sizeFor('a')).toBe(2);
      expect(await queue.sizeFor('b')).toBe(1);
      expect(await queue.sizeFor('nobody')).toBe(0);
      // Claiming frees the tenant's share again.
      expect((await queue.claim())?.id).toBe('a1');
      expect((await queue.enqueue(entry('a3', 'a'))).accepted).toBe(true);
    });

    it('enqueue_concurrentBurst_neverExceedsCapacity', async () => {
      const queue = await create({ capacity: 7, perTenant: 4 });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => queue.enqueue(entry(`id${i}`, `t${i % 5}`))),
      );
      expect(results.filter((r) => r.accepted)).toHaveLength(7);
      expect(results.every((r) => r.accepted || r.reason === 'service' || r.reason === 'tenant')).toBe(true);
      expect(await queue.size()).toBe(7);
      for (let t = 0; t < 5; t++) expect(await queue.sizeFor(`t${t}`)).toBeLessThanOrEqual(4);
    });

    it('claim_onEmptyQueue_waitsForTheNextEnqueue', async () => {
      const queue = await create({ capacity: 2, perTenant: 2 });
      const pending = queue.claim();
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      await queue.enqueue(entry('late', 't', 7));
      expect(await pending).toEqual(entry('late', 't', 7));
    });

    it('claim_concurrentClaimers_eachEntryDeliveredOnce', async () => {
      const queue = await create({ capacity: 50, perTenant: 50 });
      const claims = Array.from({ length: 4 }, () => queue.claim());
      for (let i = 0; i < 10; i++) await queue.enqueue(entry(`id${i}`, 't', i));
      const first = await Promise.all(claims);
      const rest = [];
      for (let i = 0; i < 6; i++) rest.push(await queue.claim());
      const ids = [...first, ...rest].map((e) => e?.id);
      expect(new Set(ids).size).toBe(10);
      expect(ids.every((id) => id !== undefined)).toBe(true);
    });

    it('claim_abortedSignal_resolvesUndefinedAndLosesNoEntry', async () => {
      const queue = await create({ capacity: 2, perTenant: 2 });
      const controller = new AbortController();
      const pending = queue.claim(controller.signal);
      controller.abort();
      expect(await pending).toBeUndefined();
      await queue.enqueue(entry('kept', 't'));
      expect(await queue.size()).toBe(1);
      expect((await queue.claim())?.id).toBe('kept');
    });

    it('ack_claimedOrUnknownEntry_isIdempotentAndNeverRedelivers', async () => {
      const queue = await create({ capacity: 5, perTenant: 5 });
      await queue.enqueue(entry('done', 't'));
      await queue.enqueue(entry('next', 't'));
      const claimed = await queue.claim();
      await queue.ack(claimed!.id);
      await queue.ack(claimed!.id);
      await queue.ack('unknown');
      expect(await queue.size()).toBe(1);
      expect((await queue.claim())?.id).toBe('next');
      await queue.close();
      expect(await queue.claim()).toBeUndefined();
    });

    it('remove_waitingEntry_isNeverClaimed', async () => {
      const queue = await create({ capacity: 5, perTenant: 5 });
      await queue.enqueue(entry('x', 't'));
      await queue.enqueue(entry('y', 't'));
      expect(await queue.remove('x')).toBe(true);
      expect(await queue.remove('x')).toBe(false);
      expect(await queue.remove('unknown')).toBe(false);
      expect(await queue.sizeFor('t')).toBe(1);
      expect((await queue.claim())?.id).toBe('y');
      expect(await queue.remove('y')).toBe(false);
    });

    it('close_stopsAcceptingButLetsWaitingEntriesDrain', async () => {
      const queue = await create({ capacity: 5, perTenant: 5 });
      await queue.enqueue(entry('before', 't'));
      await queue.close();
      expect(await queue.enqueue(entry('after', 't'))).toEqual({ accepted: false, reason: 'closed' });
      expect((await queue.claim())?.id).toBe('before');
      expect(await queue.claim()).toBeUndefined();
    });

    it('close_releasesClaimersWaitingOnAnEmptyQueue', async () => {
      const queue = await create({ capacity: 5, perTenant: 5 });
      const pending = [queue.claim(), queue.claim()];
      await queue.close();
      expect(await Promise.all(pending)).toEqual([undefined, undefined]);
    });

    it('enqueue_beyondServiceBytes_isRejectedAsServiceAndAcceptsAgainOnceClaimed', async () => {
      const queue = await create({ capacity: 100, perTenant: 100, maxBytes: 1000, perTenantBytes: 1000 });
      expect((await queue.enqueue(sized('a', 'ta', 600))).accepted).toBe(true);
      expect(await queue.enqueue(sized('b', 'tb', 500))).toEqual({ accepted: false, reason: 'service' });
      expect((await queue.enqueue(sized('c', 'tc', 400))).accepted).toBe(true);
      expect(await queue.bytes()).toBe(1000);
      expect(await queue.enqueue(sized('d', 'td', 1))).toEqual({ accepted: false, reason: 'service' });
      expect((await queue.claim())?.id).toBe('a');
      expect(await queue.bytes()).toBe(400);
      expect((await queue.enqueue(sized('b', 'tb', 500))).accepted).toBe(true);
    });

    it('enqueue_beyondTenantBytes_isRejectedAsTenantWhileOthersStillFit', async () => {
      const queue = await create({ capacity: 100, perTenant: 100, maxBytes: 10_000, perTenantBytes: 1000 });
      expect((await queue.enqueue(sized('a1', 'a', 700))).accepted).toBe(true);
      expect(await queue.enqueue(sized('a2', 'a', 400))).toEqual({ accepted: false, reason: 'tenant' });
      expect((await queue.enqueue(sized('b1', 'b', 900))).accepted).toBe(true);
      expect(await queue.bytesFor('a')).toBe(700);
      expect(await queue.bytesFor('b')).toBe(900);
      expect(await queue.bytesFor('nobody')).toBe(0);
      // Removing (cancel) frees the tenant's bytes as claiming does.
      expect(await queue.remove('a1')).toBe(true);
      expect(await queue.bytesFor('a')).toBe(0);
      expect((await queue.enqueue(sized('a2', 'a', 400))).accepted).toBe(true);
    });

    it('enqueue_concurrentBurst_neverExceedsByteBudgets', async () => {
      const queue = await create({ capacity: 1000, perTenant: 1000, maxBytes: 5000, perTenantBytes: 2000 });
      const results = await Promise.all(Array.from({ length: 300 }, (_, i) => queue.enqueue(sized(`id${i}`, `t${i % 4}`, 100 + (i % 7) * 50))));
      expect(results.some((r) => r.accepted)).toBe(true);
      expect(results.every((r) => r.accepted || r.reason === 'service' || r.reason === 'tenant')).toBe(true);
      expect(await queue.bytes()).toBeLessThanOrEqual(5000);
      for (let t = 0; t < 4; t++) expect(await queue.bytesFor(`t${t}`)).toBeLessThanOrEqual(2000);
      const drained = [];
      await queue.close();
      for (let e = await queue.claim(); e; e = await queue.claim()) drained.push(e);
      expect(drained.reduce((sum, e) => sum + (e.bytes ?? 0), 0)).toBeLessThanOrEqual(5000);
      expect(await queue.bytes()).toBe(0);
    });

    it('drain_returnsAndRemovesEveryWaitingEntry', async () => {
      const queue = await create({ capacity: 5, perTenant: 5 });
      await queue.enqueue(entry('a', 't1'));
      await queue.enqueue(entry('b', 't2'));
      await queue.close();
      expect((await queue.drain()).map((e) => e.id).sort()).toEqual(['a', 'b']);
      expect(await queue.size()).toBe(0);
      expect(await queue.sizeFor('t1')).toBe(0);
      expect(await queue.bytes()).toBe(0);
      expect(await queue.claim()).toBeUndefined();
    });
  });
}

// The conformance suite every CancelBus (src/jobs/ports.ts) must pass, memory and Redis alike: call
// `cancelBusConformance('name', factory)` from an implementation's test file. `create()` gives a fresh bus;
// `peer(bus)` another handle on the same channel (for Redis: its own connections, as another process
// would have). Delivery may be asynchronous (Redis pub/sub), so arrival is awaited with a generous bound;
// "not delivered" is proven by a later message that did arrive on the same handle (delivery in order).
import { afterEach, describe, expect, it } from 'vitest';
import type { AbortReason } from '../../src/jobs/outcomes.js';
import type { CancelBus } from '../../src/jobs/ports.js';

export interface CancelBusFactory {
  create(): Promise<CancelBus>;
  /** Another handle on the same channel as `bus` (another process's view of it). */
  peer(bus: CancelBus): Promise<CancelBus>;
  dispose?(): Promise<void>;
}

type Heard = [string, AbortReason];

/** A subscriber that records what it hears and can wait until it heard a given message. */
function listener(): { heard: Heard[]; handler: (id: string, reason: AbortReason) => void; until(id: string, timeoutMs?: number): Promise<void> } {
  const heard: Heard[] = [];
  const wakers: (() => void)[] = [];
  return {
    heard,
    handler(id, reason) {
      heard.push([id, reason]);
      for (const wake of wakers.splice(0)) wake();
    },
    until(id, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${id} not heard within ${timeoutMs} ms; heard ${JSON.stringify(heard)}`)), timeoutMs);
        const check = (): void => {
          if (heard.some(([heardId]) => heardId === id)) {
            clearTimeout(timer);
            resolve();
          } else wakers.push(check);
        };
        check();
      });
    },
  };
}

export function cancelBusConformance(name: string, factory: CancelBusFactory): void {
  describe(`CancelBus conformance: ${name}`, () => {
    const made: CancelBus[] = [];
    const create = async (): Promise<CancelBus> => {
      const bus = await factory.create();
      made.push(bus);
      return bus;
    };
    const peer = async (bus: CancelBus): Promise<CancelBus> => {
      const other = await factory.peer(bus);
      made.push(other);
      return other;
    };
    afterEach(async () => {
      for (const bus of made.splice(0).reverse()) await bus.close();
      await factory.dispose?.();
    });

    it('publish_onOneHandle_reachesASubscriberOnAnother', async () => {
      const api = await create();
      const worker = await peer(api);
      const heard = listener();
      await worker.subscribe(heard.handler);
      await api.publish('run-1', 'cancelled');
      await heard.until('run-1');
      expect(heard.heard).toEqual([['run-1', 'cancelled']]);
    });

    it('publish_reachesSubscribersOnThePublishingHandleToo', async () => {
      // --role all: the API and the worker running the jail are one process.
      const bus = await create();
      const heard = listener();
      await bus.subscribe(heard.handler);
      await bus.publish('run-own', 'shutdown');
      await heard.until('run-own');
      expect(heard.heard).toEqual([['run-own', 'shutdown']]);
    });

    it('publish_reachesEverySubscriberOfEveryHandleOnce_inOrder', async () => {
      const api = await create();
      const workerA = await peer(api);
      const workerB = await peer(api);
      const listeners = [listener(), listener(), listener()];
      await workerA.subscribe(listeners[0]!.handler);
      await workerA.subscribe(listeners[1]!.handler);
      await workerB.subscribe(listeners[2]!.handler);
      const reasons: AbortReason[] = ['cancelled', 'timeout', 'shutdown'];
      for (const [i, reason] of reasons.entries()) await api.publish(`run-${i}`, reason);
      for (const heard of listeners) {
        await heard.until('run-2');
        expect(heard.heard).toEqual([['run-0', 'cancelled'], ['run-1', 'timeout'], ['run-2', 'shutdown']]);
      }
    });

    it('unsubscribe_stopsDeliveryToThatHandlerOnly', async () => {
      const api = await create();
      const worker = await peer(api);
      const gone = listener();
      const stays = listener();
      const unsubscribe = await worker.subscribe(gone.handler);
      await worker.subscribe(stays.handler);
      await api.publish('before', 'cancelled');
      await gone.until('before');
      await unsubscribe();
      await api.publish('after', 'cancelled');
      await api.publish('marker', 'cancelled');
      // The marker reached the same handle after 'after' did: 'after' was delivered, just not to `gone`.
      await stays.until('marker');
      expect(stays.heard.map(([id]) => id)).toEqual(['before', 'after', 'marker']);
      expect(gone.heard.map(([id]) => id)).toEqual(['before']);
      await unsubscribe(); // idempotent
    });

    it('subscribe_throwingHandler_doesNotStopDeliveryToOthers', async () => {
      const api = await create();
      const worker = await peer(api);
      const heard = listener();
      const errors: unknown[] = [];
      const onError = (error: unknown): void => void errors.push(error);
      process.on('uncaughtException', onError);
      try {
        await worker.subscribe(() => {
          throw new Error('handler failed');
        });
        await worker.subscribe(heard.handler);
        await api.publish('run-x', 'cancelled');
        await heard.until('run-x');
        expect(heard.heard).toEqual([['run-x', 'cancelled']]);
      } finally {
        process.off('uncaughtException', onError);
      }
      expect(errors).toEqual([]);
    });

    it('close_peerHandle_otherHandlesStillDeliver', async () => {
      const api = await create();
      const closing = await peer(api);
      const worker = await peer(api);
      const closed = listener();
      const heard = listener();
      await closing.subscribe(closed.handler);
      await worker.subscribe(heard.handler);
      await closing.close();
      await api.publish('after-close', 'cancelled');
      await heard.until('after-close');
      expect(closed.heard).toEqual([]);
    });
  });
}

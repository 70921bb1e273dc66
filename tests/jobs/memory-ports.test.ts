// The memory implementations of the jobs layer's ports pass the same conformance suites as the Redis ones.
import { MemoryCancelBus } from '../../src/jobs/memory-cancel-bus.js';
import type { CancelBus, RunStore } from '../../src/jobs/ports.js';
import { MemoryRunStore } from '../../src/jobs/records.js';
import { cancelBusConformance } from './cancel-conformance.js';
import { runStoreConformance } from './run-store-conformance.js';

runStoreConformance('memory', {
  create: async (bounds) => new MemoryRunStore(bounds),
  peer: async (store: RunStore) => (store as MemoryRunStore).peer(),
});

cancelBusConformance('memory', {
  create: async () => new MemoryCancelBus(),
  peer: async (bus: CancelBus) => (bus as MemoryCancelBus).peer(),
});

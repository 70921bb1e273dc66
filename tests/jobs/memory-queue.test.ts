import { MemoryJobQueue } from '../../src/jobs/queue.js';
import { queueConformance } from './queue-conformance.js';

queueConformance('memory', { create: async (limits) => new MemoryJobQueue(limits) });

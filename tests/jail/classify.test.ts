// classify(): one exhaustive decision from kernel evidence and supervisor actions, as a table.
import { describe, expect, it } from 'vitest';
import type { CgroupUsage } from '../../src/jail/cgroup/index.js';
import { classify, type Termination } from '../../src/jail/classify.js';

const calm: CgroupUsage = { cpuMs: 1, peakMemoryBytes: 1, oomKilled: false, pidsLimitHit: false };
const t = (over: Partial<Termination>, usage: Partial<CgroupUsage> = {}): Termination => ({
  exitCode: 0, hostSignal: null, supervisor: undefined, ...over, usage: { ...calm, ...usage },
});

const table: [string, Termination, ReturnType<typeof classify>][] = [
  ['clean exit', t({ exitCode: 0 }), { exit_reason: 'exited', exit_code: 0, signal: null }],
  ['failing program', t({ exitCode: 3 }), { exit_reason: 'exited', exit_code: 3, signal: null }],
  ['seccomp kill (128+31)', t({ exitCode: 159 }), { exit_reason: 'seccomp', exit_code: null, signal: 'SIGSYS' }],
  ['RLIMIT_CPU soft (SIGXCPU)', t({ exitCode: 152 }), { exit_reason: 'cpu_limit', exit_code: null, signal: 'SIGXCPU' }],
  ['RLIMIT_FSIZE (SIGXFSZ)', t({ exitCode: 153 }), { exit_reason: 'file_size_limit', exit_code: null, signal: 'SIGXFSZ' }],
  ['program killed by SIGSEGV', t({ exitCode: 139 }), { exit_reason: 'signaled', exit_code: null, signal: 'SIGSEGV' }],
  ['OOM killer in the group', t({ exitCode: 137 }, { oomKilled: true }), { exit_reason: 'memory_limit', exit_code: null, signal: 'SIGKILL' }],
  ['OOM beats a timeout', t({ exitCode: null, hostSignal: 'SIGKILL', supervisor: 'timeout' }, { oomKilled: true }), { exit_reason: 'memory_limit', exit_code: null, signal: 'SIGKILL' }],
  ['fork bomb failing with Cannot fork', t({ exitCode: 2 }, { pidsLimitHit: true }), { exit_reason: 'pids_limit', exit_code: 2, signal: null }],
  ['fork bomb running out the clock', t({ exitCode: null, hostSignal: 'SIGKILL', supervisor: 'timeout' }, { pidsLimitHit: true }), { exit_reason: 'pids_limit', exit_code: null, signal: 'SIGKILL' }],
  ['pids.max touched but program recovered', t({ exitCode: 0 }, { pidsLimitHit: true }), { exit_reason: 'exited', exit_code: 0, signal: null }],
  ['wall clock', t({ exitCode: null, hostSignal: 'SIGKILL', supervisor: 'timeout' }), { exit_reason: 'timeout', exit_code: null, signal: 'SIGKILL' }],
  ['output cap', t({ exitCode: null, hostSignal: 'SIGKILL', supervisor: 'output_limit' }), { exit_reason: 'output_limit', exit_code: null, signal: 'SIGKILL' }],
  ['cancel', t({ exitCode: null, hostSignal: 'SIGKILL', supervisor: 'cancelled' }), { exit_reason: 'cancelled', exit_code: null, signal: 'SIGKILL' }],
  ['output cap after the program already exited 0', t({ exitCode: 0, supervisor: 'output_limit' }), { exit_reason: 'output_limit', exit_code: 0, signal: null }],
];

describe('classify', () => {
  for (const [name, termination, expected] of table) {
    it(`${name.replace(/\W+/g, '_').toLowerCase()}_classified_${expected.exit_reason}`, () => {
      expect(classify(termination)).toEqual(expected);
    });
  }
});

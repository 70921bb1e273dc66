// Compiles a SeccompPolicy into a classic BPF program for `bwrap --seccomp FD`. Pure: same policy and
// architecture, same bytes (golden-tested). Syscall lookup is a balanced decision tree, so a Go program's
// hot syscalls cost about log2(n) comparisons instead of a linear scan of the allowlist.
import { BPF, SECCOMP_DATA, SECCOMP_RET, MAX_PROGRAM_LENGTH, encode, jump, stmt, type BpfInsn } from './bpf.js';
import { ERRNO, SOCK_STREAM_TYPES, TCP_PROTOCOLS, type SeccompPolicy } from './policy.js';
import { SYSCALL_NUMBERS } from './syscalls.generated.js';

export type SeccompArch = keyof typeof SYSCALL_NUMBERS;

const AUDIT_ARCH: Record<SeccompArch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
const X32_SYSCALL_BIT = 0x40000000;

type Verdict = { ret: number } | { argIndex: number; tests: ArgTest[]; otherwise: number };
/** A match either returns, or checks a further argument (`then`, which always ends in a return). */
type ArgTest = { op: 'eq' | 'set'; value: number } & ({ ret: number } | { then: Verdict });

export interface CompiledSeccomp {
  arch: SeccompArch;
  program: Buffer;
  instructionCount: number;
  /** Syscalls this profile lets through (unconditionally or with argument checks). */
  allowedSyscalls: string[];
}

export function hostSeccompArch(): SeccompArch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  throw new Error(`seccomp: unsupported architecture ${process.arch}`);
}

export function compileSeccomp(policy: SeccompPolicy, arch: SeccompArch): CompiledSeccomp {
  const verdicts = verdictTable(policy, arch);
  const numbers = [...verdicts.keys()].sort((a, b) => a - b);
  const program: BpfInsn[] = [
    stmt(BPF.LD_W_ABS, SECCOMP_DATA.arch),
    jump(BPF.JEQ_K, AUDIT_ARCH[arch], 1, 0),
    stmt(BPF.RET_K, SECCOMP_RET.KILL_PROCESS),
    stmt(BPF.LD_W_ABS, SECCOMP_DATA.nr),
  ];
  if (arch === 'x86_64') {
    // The x32 ABI reaches the same kernel entry points under other numbers.
    program.push(jump(BPF.JGE_K, X32_SYSCALL_BIT, 0, 1), stmt(BPF.RET_K, SECCOMP_RET.KILL_PROCESS));
  }
  program.push(...decisionTree(numbers, verdicts, SECCOMP_RET.errno(policy.defaultErrno)));
  if (program.length > MAX_PROGRAM_LENGTH) throw new Error(`seccomp: program too long (${program.length})`);
  const names = syscallNames(arch);
  const allowedSyscalls = numbers
    .filter((nr) => allowsSomething(verdicts.get(nr)!))
    .map((nr) => names.get(nr)!)
    .sort();
  return { arch, program: encode(program), instructionCount: program.length, allowedSyscalls };
}

function verdictTable(policy: SeccompPolicy, arch: SeccompArch): Map<number, Verdict> {
  const table = SYSCALL_NUMBERS[arch] as Record<string, number>;
  const verdicts = new Map<number, Verdict>();
  const set = (name: string, verdict: Verdict): void => {
    const nr = table[name];
    if (nr !== undefined) verdicts.set(nr, verdict); // absent on this architecture (e.g. open on aarch64)
  };
  for (const name of policy.allow) set(name, { ret: SECCOMP_RET.ALLOW });
  for (const [name, errno] of Object.entries(policy.errno)) set(name, { ret: SECCOMP_RET.errno(errno) });
  const refused = SECCOMP_RET.errno(ERRNO.EAFNOSUPPORT);
  // A stream-only family: the type (argument 1), then the protocol (argument 2) must be TCP's.
  const tcpOnly: Verdict = {
    argIndex: 1,
    tests: SOCK_STREAM_TYPES.map((type) => ({
      op: 'eq',
      value: type,
      then: { argIndex: 2, tests: TCP_PROTOCOLS.map((protocol) => ({ op: 'eq', value: protocol, ret: SECCOMP_RET.ALLOW })), otherwise: refused },
    })),
    otherwise: refused,
  };
  const familyCheck: Verdict = {
    argIndex: 0,
    tests: [
      ...policy.socketFamilies.map((family): ArgTest => ({ op: 'eq', value: family, ret: SECCOMP_RET.ALLOW })),
      ...(policy.streamFamilies ?? []).map((family): ArgTest => ({ op: 'eq', value: family, then: tcpOnly })),
    ],
    otherwise: refused,
  };
  set('socket', familyCheck);
  set('socketpair', familyCheck);
  set('ioctl', {
    argIndex: 1,
    tests: policy.ioctlKill.map((request) => ({ op: 'eq', value: request, ret: SECCOMP_RET.KILL_PROCESS })),
    otherwise: SECCOMP_RET.ALLOW,
  });
  set('clone', {
    argIndex: 0,
    tests: [{ op: 'set', value: policy.cloneKillFlags, ret: SECCOMP_RET.KILL_PROCESS }],
    otherwise: SECCOMP_RET.ALLOW,
  });
  // Kill entries come last so no allowlist entry can override them.
  for (const name of policy.kill) set(name, { ret: SECCOMP_RET.KILL_PROCESS });
  return verdicts;
}

function allowsSomething(verdict: Verdict): boolean {
  if ('ret' in verdict) return verdict.ret === SECCOMP_RET.ALLOW;
  return verdict.otherwise === SECCOMP_RET.ALLOW || verdict.tests.some((t) => ('then' in t ? allowsSomething(t.then) : t.ret === SECCOMP_RET.ALLOW));
}

const LEAF_SIZE = 4;

function decisionTree(numbers: number[], verdicts: Map<number, Verdict>, fallback: number): BpfInsn[] {
  if (numbers.length <= LEAF_SIZE) {
    const code: BpfInsn[] = [];
    for (const nr of numbers) {
      const block = verdictBlock(verdicts.get(nr)!);
      code.push(jump(BPF.JEQ_K, nr, 0, block.length), ...block);
    }
    code.push(stmt(BPF.RET_K, fallback));
    return code;
  }
  const middle = Math.floor(numbers.length / 2);
  const low = decisionTree(numbers.slice(0, middle), verdicts, fallback);
  const high = decisionTree(numbers.slice(middle), verdicts, fallback);
  // nr >= pivot falls through to the unconditional jump (32-bit offset) over the low half.
  return [jump(BPF.JGE_K, numbers[middle]!, 0, 1), stmt(BPF.JA, low.length), ...low, ...high];
}

function verdictBlock(verdict: Verdict): BpfInsn[] {
  if ('ret' in verdict) return [stmt(BPF.RET_K, verdict.ret)];
  // Only the low 32 bits are loaded: the kernel truncates these arguments to int, so comparing
  // the full 64-bit value would let TIOCSTI | (1 << 32) through (CVE-2019-10063).
  const code: BpfInsn[] = [stmt(BPF.LD_W_ABS, SECCOMP_DATA.argLow(verdict.argIndex))];
  for (const test of verdict.tests) {
    // A nested check always ends in a return, so a miss jumps over it to the next test of this argument.
    const matched = 'then' in test ? verdictBlock(test.then) : [stmt(BPF.RET_K, test.ret)];
    code.push(jump(test.op === 'eq' ? BPF.JEQ_K : BPF.JSET_K, test.value, 0, matched.length), ...matched);
  }
  code.push(stmt(BPF.RET_K, verdict.otherwise));
  return code;
}

function syscallNames(arch: SeccompArch): Map<number, string> {
  return new Map(Object.entries(SYSCALL_NUMBERS[arch] as Record<string, number>).map(([name, nr]) => [nr, name]));
}

// Classic BPF as seccomp(2) consumes it: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }.

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export const BPF = {
  LD_W_ABS: 0x20,
  JEQ_K: 0x15,
  JGE_K: 0x35,
  JSET_K: 0x45,
  JA: 0x05,
  RET_K: 0x06,
} as const;

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  ALLOW: 0x7fff0000,
  errno: (errno: number): number => 0x00050000 | (errno & 0xffff),
} as const;

/** Offsets into struct seccomp_data. Arguments are 64-bit; on little-endian the low word comes first. */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  argLow: (index: number): number => 16 + 8 * index,
  argHigh: (index: number): number => 20 + 8 * index,
} as const;

export const MAX_PROGRAM_LENGTH = 4096;

export function stmt(code: number, k: number): BpfInsn {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

export function jump(code: number, k: number, jt: number, jf: number): BpfInsn {
  if (jt > 255 || jf > 255) throw new RangeError('BPF conditional jump offset exceeds 255');
  return { code, jt, jf, k: k >>> 0 };
}

export function encode(program: readonly BpfInsn[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k, i * 8 + 4);
  });
  return out;
}

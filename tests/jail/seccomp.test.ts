// The seccomp compiler, checked by running its output: a classic-BPF interpreter (the subset seccomp
// programs use) evaluates the compiled programs against seccomp_data for representative syscalls, for
// both profiles and both architectures. Plus golden sizes and allowed-syscall counts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BPF, SECCOMP_RET } from '../../src/jail/seccomp/bpf.js';
import { compileSeccomp, type SeccompArch } from '../../src/jail/seccomp/compile.js';
import { AF_UNIX, CLONE_NAMESPACE_FLAGS, ERRNO, IOCTL_TIOCLINUX, IOCTL_TIOCSTI, KILL_SYSCALLS, POLICIES } from '../../src/jail/seccomp/policy.js';
import { SYSCALL_NUMBERS } from '../../src/jail/seccomp/syscalls.generated.js';

const AUDIT_ARCH: Record<SeccompArch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
const AUDIT_ARCH_I386 = 0x40000003;
const X32_SYSCALL_BIT = 0x40000000;
const AF = { INET: 2, INET6: 10, NETLINK: 16, PACKET: 17 };
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const SIGCHLD = 17;
const FIONREAD = 0x541b;

/** Runs a seccomp BPF program over struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }. */
function evaluate(program: Buffer, data: { nr: number; arch: number; args?: bigint[] }): number {
  const packet = Buffer.alloc(64);
  packet.writeInt32LE(data.nr, 0);
  packet.writeUInt32LE(data.arch, 4);
  (data.args ?? []).forEach((arg, i) => packet.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i));
  let accumulator = 0;
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    if (pc * 8 >= program.length) throw new Error(`fell off the program at ${pc}`);
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case BPF.LD_W_ABS:
        if (k % 4 !== 0 || k + 4 > 64) throw new Error(`bad load offset ${k}`); // the kernel's verifier rejects these
        accumulator = packet.readUInt32LE(k);
        pc++;
        break;
      case BPF.JEQ_K:
        pc += 1 + (accumulator === k ? jt : jf);
        break;
      case BPF.JGE_K:
        pc += 1 + (accumulator >= k ? jt : jf);
        break;
      case BPF.JSET_K:
        pc += 1 + ((accumulator & k) >>> 0 !== 0 ? jt : jf);
        break;
      case BPF.JA:
        pc += 1 + k;
        break;
      case BPF.RET_K:
        return k;
      default:
        throw new Error(`unexpected BPF opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('program did not return');
}

const KILL = SECCOMP_RET.KILL_PROCESS;
const ALLOW = SECCOMP_RET.ALLOW;
const EPERM = SECCOMP_RET.errno(ERRNO.EPERM);
const EAFNOSUPPORT = SECCOMP_RET.errno(ERRNO.EAFNOSUPPORT);
const ENOSYS = SECCOMP_RET.errno(ERRNO.ENOSYS);

for (const arch of ['x86_64', 'aarch64'] as const) {
  const numbers = SYSCALL_NUMBERS[arch] as Record<string, number>;
  const nr = (name: string): number => {
    const value = numbers[name];
    if (value === undefined) throw new Error(`${name} unknown on ${arch}`);
    return value;
  };
  for (const profile of ['shell', 'terraform'] as const) {
    describe(`seccomp ${profile} on ${arch}`, () => {
      const compiled = compileSeccomp(POLICIES[profile], arch);
      const verdict = (name: string, args: bigint[] = []): number => evaluate(compiled.program, { nr: nr(name), arch: AUDIT_ARCH[arch], args });

      it('process_and_file_syscalls_allowed', () => {
        for (const name of ['read', 'write', 'openat', 'close', 'execve', 'exit_group', 'mmap', 'wait4', 'getdents64']) {
          expect(verdict(name), name).toBe(ALLOW);
        }
      });

      it('escape_syscalls_killed', () => {
        const present = KILL_SYSCALLS.filter((name) => numbers[name] !== undefined);
        expect(present.length).toBeGreaterThan(40);
        for (const name of present) expect(verdict(name), name).toBe(KILL);
      });

      it('unlisted_syscalls_fail_eperm', () => {
        for (const name of ['setuid', 'fchownat', 'sched_setaffinity', 'mknodat', 'setpriority']) expect(verdict(name), name).toBe(EPERM);
      });

      it('socket_families_filtered', () => {
        for (const family of Object.values(AF)) {
          expect(verdict('socket', [BigInt(family), 1n, 0n]), `family ${family}`).toBe(EAFNOSUPPORT);
          expect(verdict('socketpair', [BigInt(family), 1n, 0n]), `socketpair family ${family}`).toBe(EAFNOSUPPORT);
        }
        expect(verdict('socket', [BigInt(AF_UNIX), 1n, 0n])).toBe(profile === 'terraform' ? ALLOW : EAFNOSUPPORT);
        // Only the low 32 bits count (the kernel takes an int): high garbage does not turn INET into UNIX.
        expect(verdict('socket', [BigInt(AF.INET) | (1n << 32n), 1n, 0n])).toBe(EAFNOSUPPORT);
      });

      it('socket_calls_beyond_socket_follow_the_profile', () => {
        for (const name of ['connect', 'bind', 'sendmsg']) expect(verdict(name), name).toBe(profile === 'terraform' ? ALLOW : EPERM);
      });

      it('terminal_injection_ioctls_killed_with_and_without_high_bits', () => {
        for (const request of [IOCTL_TIOCSTI, IOCTL_TIOCLINUX]) {
          expect(verdict('ioctl', [1n, BigInt(request)])).toBe(KILL);
          // CVE-2019-10063: the kernel truncates the request to 32 bits, so the filter must too.
          expect(verdict('ioctl', [1n, BigInt(request) | (1n << 32n)])).toBe(KILL);
          expect(verdict('ioctl', [1n, BigInt(request) | (0xffffffffn << 32n)])).toBe(KILL);
        }
        expect(verdict('ioctl', [0n, BigInt(FIONREAD)])).toBe(ALLOW);
      });

      it('clone_with_namespace_flags_killed_plain_clone_allowed', () => {
        expect(verdict('clone', [BigInt(SIGCHLD)])).toBe(ALLOW);
        expect(verdict('clone', [BigInt(CLONE_NEWUSER | SIGCHLD)])).toBe(KILL);
        expect(verdict('clone', [BigInt(CLONE_NEWNS)])).toBe(KILL);
        for (let bit = 0; bit < 32; bit++) {
          const flag = (1 << bit) >>> 0;
          if ((CLONE_NAMESPACE_FLAGS & flag) !== 0) expect(verdict('clone', [BigInt(flag)]), `flag 0x${flag.toString(16)}`).toBe(KILL);
        }
        // clone3 hides its flags in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
        expect(verdict('clone3')).toBe(ENOSYS);
      });

      it('wrong_architecture_killed', () => {
        const other = arch === 'x86_64' ? AUDIT_ARCH.aarch64 : AUDIT_ARCH.x86_64;
        expect(evaluate(compiled.program, { nr: nr('read'), arch: other })).toBe(KILL);
        expect(evaluate(compiled.program, { nr: 3, arch: AUDIT_ARCH_I386 })).toBe(KILL);
      });

      if (arch === 'x86_64') {
        it('x32_abi_syscalls_killed', () => {
          expect(evaluate(compiled.program, { nr: nr('read') | X32_SYSCALL_BIT, arch: AUDIT_ARCH.x86_64 })).toBe(KILL);
          expect(evaluate(compiled.program, { nr: nr('write') | X32_SYSCALL_BIT, arch: AUDIT_ARCH.x86_64 })).toBe(KILL);
        });
      }

      it('every_number_matches_the_policy', () => {
        // Exhaustive over the architecture's table: allowed exactly when the policy allows it.
        const allowed = new Set(compiled.allowedSyscalls);
        for (const [name, number] of Object.entries(numbers)) {
          const result = evaluate(compiled.program, { nr: number, arch: AUDIT_ARCH[arch], args: [BigInt(AF_UNIX), 0n] });
          if (['socket', 'socketpair', 'ioctl', 'clone'].includes(name)) continue; // argument-dependent, above
          expect(result === ALLOW, name).toBe(allowed.has(name));
        }
      });
    });
  }
}

// terraform-egress (issue 11): terraform's profile plus IPv4 TCP client sockets, and nothing else.
for (const arch of ['x86_64', 'aarch64'] as const) {
  describe(`seccomp terraform-egress on ${arch}`, () => {
    const numbers = SYSCALL_NUMBERS[arch] as Record<string, number>;
    const egress = compileSeccomp(POLICIES['terraform-egress'], arch);
    const terraform = compileSeccomp(POLICIES.terraform, arch);
    const verdict = (program: Buffer, name: string, args: bigint[]): number => evaluate(program, { nr: numbers[name]!, arch: AUDIT_ARCH[arch], args });
    const SOCK = { STREAM: 1n, DGRAM: 2n, RAW: 3n, SEQPACKET: 5n, NONBLOCK: 0x800n, CLOEXEC: 0x80000n };
    const IPPROTO = { TCP: 6n, UDP: 17n, SCTP: 132n, MPTCP: 262n };

    it('inet_tcp_stream_sockets_allowed_with_any_flags', () => {
      for (const flags of [0n, SOCK.NONBLOCK, SOCK.CLOEXEC, SOCK.NONBLOCK | SOCK.CLOEXEC]) {
        for (const protocol of [0n, IPPROTO.TCP]) {
          expect(verdict(egress.program, 'socket', [BigInt(AF.INET), SOCK.STREAM | flags, protocol]), `flags ${flags} protocol ${protocol}`).toBe(ALLOW);
        }
      }
      expect(verdict(egress.program, 'socket', [BigInt(AF_UNIX), SOCK.STREAM, 0n])).toBe(ALLOW); // the provider's gRPC
    });

    it('inet_udp_raw_sctp_mptcp_and_unknown_type_bits_refused', () => {
      for (const type of [SOCK.DGRAM, SOCK.RAW, SOCK.SEQPACKET, SOCK.DGRAM | SOCK.CLOEXEC, SOCK.STREAM | 0x40n, SOCK.STREAM | (1n << 32n) | 0x10n]) {
        expect(verdict(egress.program, 'socket', [BigInt(AF.INET), type, 0n]), `type ${type}`).toBe(EAFNOSUPPORT);
      }
      for (const protocol of [IPPROTO.UDP, IPPROTO.SCTP, IPPROTO.MPTCP, 255n]) {
        expect(verdict(egress.program, 'socket', [BigInt(AF.INET), SOCK.STREAM, protocol]), `protocol ${protocol}`).toBe(EAFNOSUPPORT);
      }
    });

    it('ipv6_netlink_packet_sockets_still_refused', () => {
      for (const family of [AF.INET6, AF.NETLINK, AF.PACKET]) {
        expect(verdict(egress.program, 'socket', [BigInt(family), SOCK.STREAM, 0n]), `family ${family}`).toBe(EAFNOSUPPORT);
        expect(verdict(egress.program, 'socketpair', [BigInt(family), SOCK.STREAM, 0n]), `socketpair ${family}`).toBe(EAFNOSUPPORT);
      }
      // High garbage in the family does not make it AF_INET.
      expect(verdict(egress.program, 'socket', [BigInt(AF.INET6) | (1n << 32n), SOCK.STREAM, 0n])).toBe(EAFNOSUPPORT);
    });

    it('every_other_syscall_same_verdict_as_terraform', () => {
      for (const [name] of Object.entries(numbers)) {
        if (name === 'socket' || name === 'socketpair') continue;
        for (const args of [[BigInt(AF.INET), SOCK.STREAM, 0n], [0n, BigInt(IOCTL_TIOCSTI)], [BigInt(CLONE_NEWUSER)]]) {
          expect(verdict(egress.program, name, args), name).toBe(verdict(terraform.program, name, args));
        }
      }
      expect(egress.allowedSyscalls).toEqual(terraform.allowedSyscalls);
    });
  });
}

describe('seccomp golden', () => {
  const golden = {
    x86_64: { shell: [158, 634, 'b52ca828163bc868'], terraform: [197, 712, '5163de144560c252'], 'terraform-egress': [197, 774, '393c5a61cb7b57cb'] },
    aarch64: { shell: [130, 570, '8d9bbf117711b45c'], terraform: [166, 642, '847fc99e20cb7367'], 'terraform-egress': [166, 704, 'de9dd570a6990b0f'] },
  } as const;
  for (const arch of ['x86_64', 'aarch64'] as const) {
    for (const profile of ['shell', 'terraform', 'terraform-egress'] as const) {
      it(`${profile}_${arch}_allowed_count_and_program_unchanged`, () => {
        // A policy change must update these on purpose (and docs/security.md's counts).
        const compiled = compileSeccomp(POLICIES[profile], arch);
        const [allowedCount, instructions, digest] = golden[arch][profile];
        expect(compiled.allowedSyscalls.length).toBe(allowedCount);
        expect(compiled.instructionCount).toBe(instructions);
        expect(createHash('sha256').update(compiled.program).digest('hex').slice(0, 16)).toBe(digest);
        expect(compileSeccomp(POLICIES[profile], arch).program.equals(compiled.program)).toBe(true); // deterministic
      });
    }
  }

  it('terraform_profile_allows_a_superset_of_shell', () => {
    const shell = new Set(compileSeccomp(POLICIES.shell, 'x86_64').allowedSyscalls);
    const terraform = new Set(compileSeccomp(POLICIES.terraform, 'x86_64').allowedSyscalls);
    expect([...shell].filter((name) => !terraform.has(name))).toEqual([]);
    expect([...terraform].filter((name) => !shell.has(name))).toEqual(expect.arrayContaining(['connect', 'epoll_wait', 'socket']));
  });
});

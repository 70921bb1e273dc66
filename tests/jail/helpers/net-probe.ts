// The network probe (net-probe.c) for door tests, built static like the attack helper, and a stand-in for
// the egress proxy: a node server on a unix socket that answers each connection once the jail half-closes.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mount } from '../../../src/jail/spec.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, 'net-probe.c');
const BINARY = resolve(HERE, '../../attack/bin/net-probe');
export const PROBE_IN_JAIL = '/opt/probe/net-probe';

export function probeBinary(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(dirname(BINARY), { recursive: true });
  const temporary = `${BINARY}.${process.pid}.tmp`;
  execFileSync('cc', ['-static', '-O2', '-Wall', '-o', temporary, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(temporary, BINARY);
  return BINARY;
}

export function probeMount(): Mount {
  return { kind: 'ro-bind', source: probeBinary(), target: PROBE_IN_JAIL };
}

export interface StandInProxy {
  socketPath: string;
  /** Bytes received per finished connection, in order. */
  received: number[];
  /**
   * Most connections held unanswered at the same time (holdUntil): each is open at the door until its
   * reply, so this is how many the door kept open at once. (Counting opens and closes instead would race:
   * the door may open a new connection before the server has seen the old one's close.)
   */
  maxHeld(): number;
  close(): Promise<void>;
}

export interface StandInOptions {
  name: string;
  /** Bytes of filler after the header of each reply (to push data through the door's buffers). */
  replyBytes?: number;
  /** Answer only once this many connections are open at once (then after holdMs), or after idleMs. */
  holdUntil?: { count: number; holdMs: number; idleMs: number };
}

/**
 * A unix-socket server standing in for the run's egress proxy: replies `<name>:received=<n>:` and filler
 * once the client half-closes. Its socket is connectable by any uid (the door runs unprivileged).
 */
export async function startStandInProxy(options: StandInOptions): Promise<StandInProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'confine-door-'));
  chmodSync(dir, 0o711);
  const socketPath = join(dir, 'proxy.sock');
  const received: number[] = [];
  let open = 0;
  let maxHeld = 0;
  const held: (() => void)[] = [];
  let idle: NodeJS.Timeout | undefined;
  const releaseAll = (): void => {
    clearTimeout(idle);
    for (const release of held.splice(0)) release();
  };
  // Half-open: the jail's end of file must not end our side before the (possibly held) reply is written.
  const server: Server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    open++;
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', () => {}); // a jail that resets its connection is not the proxy's failure
    socket.on('close', () => open--);
    socket.on('end', () => {
      received.push(bytes);
      const answer = (): void => {
        socket.end(Buffer.concat([Buffer.from(`${options.name}:received=${bytes}:`), Buffer.alloc(options.replyBytes ?? 0, 'r')]));
      };
      const hold = options.holdUntil;
      if (!hold) return answer();
      held.push(answer);
      maxHeld = Math.max(maxHeld, held.length);
      clearTimeout(idle);
      if (open >= hold.count) idle = setTimeout(releaseAll, hold.holdMs);
      else idle = setTimeout(releaseAll, hold.idleMs);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(socketPath, () => ok());
  });
  chmodSync(socketPath, 0o666);
  return {
    socketPath,
    received,
    maxHeld: () => maxHeld,
    close: async () => {
      releaseAll();
      await new Promise<void>((ok) => server.close(() => ok()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

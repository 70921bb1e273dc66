// The door of an egress step (issue 11): a network namespace holding only `lo` and one TCP listener on
// 127.0.0.1:port that belongs to the host. The jail agent creates it (native/jail-agent.c, DOOR): the
// listener's process relays every connection to one unix socket on the host (the run's egress proxy),
// runs as an unprivileged uid once bound, and dies with the run (close), with the agent, never later.
// A jail joins the namespace through `JailSpec.network = { netnsPath }`.
import type { AgentDoor, JailAgent } from './agent/client.js';
import { JailSetupError } from './errors.js';

export interface DoorOptions {
  /** Absolute path of the host unix socket connections are relayed to; the door's uid must be able to connect to it. */
  socketPath: string;
  /** The TCP port the door listens on, on 127.0.0.1 inside its namespace (1-65535). */
  port: number;
  /** Unprivileged host identity the door process drops to once its listener is bound (not 0). */
  uid: number;
  gid: number;
}

export interface Door {
  /** `/proc/<door pid>/ns/net`: give it to `JailSpec.network.netnsPath`. */
  readonly netnsPath: string;
  /** The door process (tests look for it on the host). */
  readonly pid: number;
  /** Kills the door and resolves once its process is gone; idempotent. */
  close(): Promise<void>;
}

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

function checkSocketPath(path: string): void {
  if (!path.startsWith('/') || path.includes('\0') || Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new JailSetupError('door socket path must be absolute, without NUL, at most 107 bytes', path);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new JailSetupError('door port must be an integer in 1-65535', String(port));
}

function checkIdentity(uid: number, gid: number): void {
  const valid = (id: number): boolean => Number.isInteger(id) && id > 0 && id < 0xffffffff;
  if (!valid(uid) || !valid(gid)) throw new JailSetupError('a door runs as an unprivileged uid/gid (not root)', `${uid}:${gid}`);
}

export async function openDoor(agent: JailAgent, options: DoorOptions): Promise<Door> {
  checkSocketPath(options.socketPath);
  checkPort(options.port);
  checkIdentity(options.uid, options.gid);
  const door: AgentDoor = await agent.openDoor(options);
  let closing: Promise<void> | undefined;
  return {
    netnsPath: `/proc/${door.pid}/ns/net`,
    pid: door.pid,
    close() {
      if (!closing) {
        door.kill();
        closing = door.exited.then(() => undefined);
      }
      return closing;
    },
  };
}

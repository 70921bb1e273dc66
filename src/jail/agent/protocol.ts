// The jail agent's wire format (native/jail-agent.c documents it): little-endian frames
//   u32 length-of-rest | u8 type | u32 id | payload
// Pure encoding and decoding; client.ts does the talking.

export const REQUEST = { prepare: 1, spawn: 2, kill: 3, mount: 4, umount: 5, door: 6 } as const;
export const EVENT = { ready: 1, started: 2, output: 3, failed: 4, exit: 5, done: 6 } as const;

/** What a launcher needs to become the jail: identity, rlimits, descriptors and bubblewrap's argv. */
export interface LaunchRequest {
  uid: number;
  gid: number;
  rlimits: {
    cpuSoftSeconds: number;
    cpuHardSeconds: number;
    fileSizeBytes: number;
    openFiles: number;
    coreBytes: number;
    processes: number;
  };
  argv: readonly string[];
  /** Content written to a pipe that the jail reads at descriptor `fd` (seccomp, --args, file mounts). */
  dataFiles: readonly { fd: number; content: Buffer | string }[];
  stdin: Buffer | string;
  /**
   * A door's network namespace (`/proc/<door pid>/ns/net`) that the launcher joins before dropping
   * privileges; absent = bubblewrap makes an empty one. The agent refuses any other path.
   */
  netnsPath?: string;
}

/** A door (native/jail-agent.c): a listener on 127.0.0.1:port in a fresh network namespace, relayed to a unix socket. */
export interface DoorRequest {
  /** Absolute path of the host's unix socket every accepted connection is relayed to. */
  socketPath: string;
  port: number;
  /** The unprivileged identity the door drops to once its listener is bound. */
  uid: number;
  gid: number;
}

export type AgentEvent =
  | { type: 'ready'; id: number }
  | { type: 'started'; id: number; pid: number }
  | { type: 'output'; id: number; stream: 1 | 2; chunk: Buffer }
  | { type: 'failed'; id: number; message: string }
  | { type: 'exit'; id: number; code: number | null; signal: number | null }
  | { type: 'done'; id: number; errno: number; message: string };

class Writer {
  private readonly parts: Buffer[] = [];

  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.parts.push(b);
    return this;
  }

  u64(value: number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(value))));
    this.parts.push(b);
    return this;
  }

  bytes(value: Buffer | string): this {
    const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }

  strs(values: readonly string[]): this {
    this.u32(values.length);
    for (const v of values) this.bytes(v);
    return this;
  }

  frame(type: number, id: number): Buffer {
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(9);
    head.writeUInt32LE(5 + body.length, 0);
    head.writeUInt8(type, 4);
    head.writeUInt32LE(id >>> 0, 5);
    return Buffer.concat([head, body]);
  }

  buffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function encodePrepare(id: number, procsFiles: readonly string[]): Buffer {
  return new Writer().strs(procsFiles).frame(REQUEST.prepare, id);
}

export function encodeSpawn(id: number, prepared: boolean, procsFiles: readonly string[], launch: LaunchRequest): Buffer {
  const r = launch.rlimits;
  const exec = new Writer()
    .u32(launch.uid)
    .u32(launch.gid)
    .u64(r.cpuSoftSeconds)
    .u64(r.cpuHardSeconds)
    .u64(r.fileSizeBytes)
    .u64(r.openFiles)
    .u64(r.coreBytes)
    .u64(r.processes)
    .u32(launch.dataFiles.length);
  for (const file of launch.dataFiles) exec.u32(file.fd);
  exec.strs(launch.argv).bytes(launch.netnsPath ?? '');
  const w = new Writer().u32(prepared ? 1 : 0).strs(procsFiles).bytes(exec.buffer()).u32(launch.dataFiles.length);
  for (const file of launch.dataFiles) w.bytes(file.content);
  return w.bytes(launch.stdin).frame(REQUEST.spawn, id);
}

export function encodeDoor(id: number, door: DoorRequest): Buffer {
  return new Writer().bytes(door.socketPath).u32(door.port).u32(door.uid).u32(door.gid).frame(REQUEST.door, id);
}

export function encodeKill(id: number): Buffer {
  return new Writer().frame(REQUEST.kill, id);
}

export function encodeMount(id: number, source: string, target: string, fstype: string, flags: number, data: string): Buffer {
  return new Writer().bytes(source).bytes(target).bytes(fstype).u64(flags).bytes(data).frame(REQUEST.mount, id);
}

export function encodeUmount(id: number, target: string, flags: number): Buffer {
  return new Writer().bytes(target).u32(flags).frame(REQUEST.umount, id);
}

/** Splits a byte stream into events; keeps a partial frame for the next chunk. */
export class EventDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): AgentEvent[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: AgentEvent[] = [];
    let at = 0;
    while (this.pending.length - at >= 4) {
      const length = this.pending.readUInt32LE(at);
      if (this.pending.length - at - 4 < length) break;
      events.push(decodeEvent(this.pending.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    this.pending = this.pending.subarray(at);
    return events;
  }
}

function decodeEvent(frame: Buffer): AgentEvent {
  const type = frame.readUInt8(0);
  const id = frame.readUInt32LE(1);
  const body = frame.subarray(5);
  const bytesAt = (offset: number): Buffer => body.subarray(offset + 4, offset + 4 + body.readUInt32LE(offset));
  switch (type) {
    case EVENT.ready:
      return { type: 'ready', id };
    case EVENT.started:
      return { type: 'started', id, pid: body.readUInt32LE(0) };
    case EVENT.output:
      return { type: 'output', id, stream: body.readUInt32LE(0) === 2 ? 2 : 1, chunk: Buffer.from(bytesAt(4)) };
    case EVENT.failed:
      return { type: 'failed', id, message: bytesAt(0).toString('utf8') };
    case EVENT.exit: {
      const code = body.readInt32LE(0);
      const signal = body.readInt32LE(4);
      return { type: 'exit', id, code: code < 0 ? null : code, signal: signal > 0 ? signal : null };
    }
    case EVENT.done:
      return { type: 'done', id, errno: body.readInt32LE(0), message: bytesAt(4).toString('utf8') };
    default:
      throw new Error(`jail agent sent an unknown event type ${type}`);
  }
}

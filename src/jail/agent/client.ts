// The service side of the jail agent (native/jail-agent.c): one long-lived root helper per JailHost that
// forks launchers, enters cgroups, drops privileges, execs bubblewrap and mounts workspaces, so that node
// itself never forks on a run's path (each fork of node blocked its event loop ~2 ms; a jail cost three).
// Every request carries an id; a run ends with exactly one `exit` event, whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { JailSetupError } from '../errors.js';
import {
  EventDecoder, encodeDoor, encodeKill, encodeMount, encodePrepare, encodeSpawn, encodeUmount, type AgentEvent, type DoorRequest,
  type LaunchRequest,
} from './protocol.js';

export type { DoorRequest, LaunchRequest } from './protocol.js';

/** Built by `npm run build` (scripts/build-native.sh); the same path from src/ and from dist/. */
export const AGENT_BINARY = fileURLToPath(new URL('../../../dist/native/confine-jail-agent', import.meta.url));

export const MOUNT_FLAGS = { nosuid: 0x2, nodev: 0x4, noexec: 0x8 } as const;
const MNT_DETACH = 0x2;

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the launcher could not become the jail (cgroup entry, rlimits, uid change...), if it failed. */
  failure?: string;
}

export interface AgentRun {
  /** Output of the jail's stdout (1) and stderr (2), in arrival order. Attach before the next tick. */
  onOutput(handler: (stream: 1 | 2, chunk: Buffer) => void): void;
  readonly exited: Promise<AgentExit>;
  kill(): void;
}

/** A running door process (the agent's child): its pid names its network namespace. */
export interface AgentDoor {
  readonly pid: number;
  /** Resolves once the door process is gone (killed, or died). */
  readonly exited: Promise<AgentExit>;
  kill(): void;
}

/** A launcher already inside its job cgroup, waiting for a run. */
export interface PreparedLauncher {
  /** False once the launcher is gone (killed from outside while idle). */
  readonly waiting: boolean;
  spawn(launch: LaunchRequest): AgentRun;
  /** Kills it unused; resolves once it is gone. */
  release(): Promise<void>;
}

interface Listener {
  onEvent(event: AgentEvent): void;
  /** The agent died: the request ends with this failure. */
  abort(reason: string): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]));

export class JailAgent {
  private process: ChildProcess | undefined;
  private readonly listeners = new Map<number, Listener>();
  private nextId = 1;
  /** Requests in flight: while any exists the agent's pipe keeps node's event loop alive. */
  private active = 0;

  constructor(private readonly binary: string = AGENT_BINARY) {
    if (!existsSync(binary)) throw new JailSetupError(`jail agent not built: ${binary} is missing (run npm run build)`);
  }

  /** The agent's pid while it runs (it starts on the first request). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts a launcher inside the cgroup whose cgroup.procs files are given; resolves once it is in. */
  prepare(procsFiles: readonly string[]): Promise<PreparedLauncher> {
    const id = this.id();
    return new Promise((resolve, reject) => {
      let failure = '';
      let waiting = false;
      let releasing = false;
      let exited: (exit: AgentExit) => void = () => {};
      let spawned: RunListener | undefined;
      const gone = new Promise<AgentExit>((r) => (exited = r));
      this.begin();
      this.listeners.set(id, {
        onEvent: (event) => {
          if (spawned) {
            spawned.onEvent(event);
            return;
          }
          if (event.type === 'ready') {
            waiting = true;
            this.finish(); // an idle launcher does not keep the process alive
            const agent = this;
            resolve({
              get waiting() {
                return waiting;
              },
              spawn(launch) {
                if (!waiting) throw new JailSetupError('the prepared launcher is no longer waiting');
                waiting = false;
                agent.begin();
                spawned = new RunListener(() => agent.send(encodeKill(id)), () => agent.end(id));
                agent.send(encodeSpawn(id, true, [], launch));
                return spawned;
              },
              release() {
                if (waiting) {
                  agent.begin(); // until its exit arrives
                  releasing = true;
                  agent.send(encodeKill(id));
                }
                waiting = false;
                return gone.then(() => undefined);
              },
            });
          } else if (event.type === 'failed') {
            failure = event.message;
          } else if (event.type === 'exit') {
            const wasWaiting = waiting;
            waiting = false;
            this.listeners.delete(id);
            if (releasing) this.finish();
            else if (!wasWaiting) {
              this.finish();
              reject(new JailSetupError('could not start a launcher in the job cgroup', failure || describeExit(event)));
            }
            exited({ code: event.code, signal: signalName(event.signal), ...(failure ? { failure } : {}) });
          }
        },
        abort: (reason) => {
          if (spawned) {
            spawned.abort(reason);
            return;
          }
          if (releasing) this.finish();
          else if (!waiting) {
            this.finish();
            reject(new JailSetupError('could not start a launcher in the job cgroup', reason));
          }
          waiting = false;
          exited({ code: null, signal: 'SIGKILL', failure: reason });
        },
      });
      this.send(encodePrepare(id, procsFiles));
    });
  }

  /** A launcher started now: enters the cgroup, then becomes the jail. */
  spawn(procsFiles: readonly string[], launch: LaunchRequest): AgentRun {
    const id = this.id();
    this.begin();
    const run = new RunListener(() => this.send(encodeKill(id)), () => this.end(id));
    this.listeners.set(id, run);
    this.send(encodeSpawn(id, false, procsFiles, launch));
    return run;
  }

  /** Starts a door; resolves once its listener is bound and it runs as `uid` (the agent says `started`). */
  openDoor(door: DoorRequest): Promise<AgentDoor> {
    const id = this.id();
    this.begin();
    return new Promise((resolve, reject) => {
      let failure = '';
      let started = false;
      let exited: (exit: AgentExit) => void = () => {};
      const gone = new Promise<AgentExit>((r) => (exited = r));
      const end = (exit: AgentExit): void => {
        this.end(id);
        if (!started) reject(new JailSetupError('could not open the door', exit.failure ?? describeExit({ code: exit.code, signal: null })));
        exited(exit);
      };
      this.listeners.set(id, {
        onEvent: (event) => {
          if (event.type === 'started') {
            started = true;
            resolve({ pid: event.pid, exited: gone, kill: () => this.send(encodeKill(id)) });
          } else if (event.type === 'failed') {
            failure ||= event.message;
          } else if (event.type === 'exit') {
            end({ code: event.code, signal: signalName(event.signal), ...(failure ? { failure } : {}) });
          }
        },
        abort: (reason) => end({ code: null, signal: 'SIGKILL', failure: reason }),
      });
      this.send(encodeDoor(id, door));
    });
  }

  async mountTmpfs(target: string, options: string, flags: number): Promise<void> {
    const { errno, message } = await this.request((id) => encodeMount(id, 'confine-workspace', target, 'tmpfs', flags, options));
    if (errno !== 0) throw new JailSetupError(`mount tmpfs at ${target} failed`, message);
  }

  /** Unmounts `target`; a busy mount is detached instead. Not mounted (or missing) is success. */
  async unmount(target: string): Promise<void> {
    let result = await this.request((id) => encodeUmount(id, target, 0));
    if (result.errno === constants.errno.EBUSY) result = await this.request((id) => encodeUmount(id, target, MNT_DETACH));
    if (result.errno === 0 || result.errno === constants.errno.EINVAL || result.errno === constants.errno.ENOENT) return;
    throw new JailSetupError(`unmount ${target} failed`, result.message);
  }

  /** Ends the agent: it kills whatever it still runs (call once runs are finished). */
  async close(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.ref(); // keep node alive until the agent has gone (it is unref'd while idle)
    child.stdin!.end();
    await ended;
  }

  private request(encode: (id: number) => Buffer): Promise<{ errno: number; message: string }> {
    const id = this.id();
    this.begin();
    return new Promise((resolve, reject) => {
      this.listeners.set(id, {
        onEvent: (event) => {
          if (event.type !== 'done') return;
          this.end(id);
          resolve({ errno: event.errno, message: event.message });
        },
        abort: (reason) => {
          this.end(id);
          reject(new JailSetupError('jail agent request failed', reason));
        },
      });
      this.send(encode(id));
    });
  }

  /** A fresh id; after wrapping around, ids still in use are skipped (the agent ignores a live id). */
  private id(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xfffffff0 ? 1 : this.nextId + 1;
      if (!this.listeners.has(id)) return id;
    }
  }

  private begin(): void {
    if (this.active++ === 0) this.stdout()?.ref();
  }

  private finish(): void {
    if (--this.active === 0) this.stdout()?.unref();
  }

  private end(id: number): void {
    this.listeners.delete(id);
    this.finish();
  }

  private stdout(): Socket | undefined {
    return this.process?.stdout as Socket | undefined;
  }

  private send(frame: Buffer): void {
    this.ensure().stdin!.write(frame);
  }

  /** The running agent, started on first use and again after it died. */
  private ensure(): ChildProcess {
    if (this.process) return this.process;
    // detached: its own session and process group from before its first instruction, so a terminal's
    // Ctrl-C reaches the service (which drains) and never the agent (which would kill every jail first).
    // Its life stays bound to the service's: PR_SET_PDEATHSIG and end of stdin.
    // Our pid, so the agent can tell its parent died before it started even when we are pid 1 (a container's).
    const child = spawn(this.binary, [String(process.pid)], { stdio: ['pipe', 'pipe', 'inherit'], env: {}, detached: true });
    this.process = child;
    const decoder = new EventDecoder();
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) this.listeners.get(event.id)?.onEvent(event);
    });
    child.stdin!.on('error', () => {}); // a dead agent is reported by 'exit' below
    child.on('error', (error) => this.died(child, `jail agent failed: ${error.message}`));
    child.on('exit', (code, signal) => this.died(child, `jail agent ended (${signal ?? code})`));
    child.unref();
    if (this.active === 0) (child.stdout as Socket).unref();
    return child;
  }

  private died(child: ChildProcess, reason: string): void {
    if (this.process === child) this.process = undefined;
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    for (const listener of listeners) listener.abort(reason);
  }
}

class RunListener implements Listener, AgentRun {
  private handler: (stream: 1 | 2, chunk: Buffer) => void = () => {};
  private failure = '';
  /** The agent answers every spawn with `started` or `failed` before the run's `exit`. */
  private answered = false;
  private resolveExit: (exit: AgentExit) => void = () => {};
  readonly exited = new Promise<AgentExit>((resolve) => (this.resolveExit = resolve));

  constructor(
    private readonly sendKill: () => void,
    private readonly done: () => void,
  ) {}

  onOutput(handler: (stream: 1 | 2, chunk: Buffer) => void): void {
    this.handler = handler;
  }

  kill(): void {
    this.sendKill();
  }

  onEvent(event: AgentEvent): void {
    if (event.type === 'output') this.handler(event.stream, event.chunk);
    else if (event.type === 'started') this.answered = true;
    else if (event.type === 'failed') {
      this.answered = true;
      this.failure ||= event.message;
    } else if (event.type === 'exit') {
      // An exit before any answer is a prepared launcher's own death (killed while idle) overtaking the
      // spawn: the run never started, which is a setup failure, not a signal of the tenant's program.
      if (!this.answered) this.failure ||= `the prepared launcher died before it was handed the run (${describeExit(event)})`;
      this.done();
      this.resolveExit({ code: event.code, signal: signalName(event.signal), ...(this.failure ? { failure: this.failure } : {}) });
    }
  }

  abort(reason: string): void {
    this.done();
    this.resolveExit({ code: null, signal: 'SIGKILL', failure: reason });
  }
}

function signalName(signal: number | null): NodeJS.Signals | null {
  return signal === null ? null : (SIGNAL_NAMES.get(signal) ?? 'SIGKILL');
}

function describeExit(event: { code: number | null; signal: number | null }): string {
  return event.code === null ? `launcher killed by ${signalName(event.signal)}` : `launcher exited ${event.code}`;
}

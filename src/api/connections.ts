// Connection caps and the stalled-body timeout: what a stranger can hold open is bounded, and cannot
// crowd out a tenant. Threats: descriptor exhaustion by thousands of half-open connections (headers
// never completed, or a body that never arrives), and idle sockets kept after a failed login.
// - At most `maxConnections` are open; a connection beyond it gets 503 too_many_connections and is closed.
// - At most `maxUnauthenticatedConnections` have not yet made an authenticated request; a new one
//   beyond it evicts the oldest of them (preferring one with no response in progress). A stranger's
//   flood therefore recycles its own slots, while a tenant's connection authenticates within
//   milliseconds of arriving and leaves the pool (see markAuthenticated).
// - A request body that sends no byte for `bodyIdleTimeoutMs` gets 408 and its connection is closed
//   (node's own requestTimeout bounds the whole request; this catches a stall long before it).
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { HttpLimits } from '../config/settings.js';
import { answerAndClose, responseStarted } from './edge-errors.js';

export interface ConnectionStats {
  open: number;
  unauthenticated: number;
  /** Totals since start. */
  refused: number;
  evicted: number;
  stalled: number;
}

interface BodyProgress {
  socket: Socket;
  bytesRead: number;
  since: number;
}

/** Descriptors kept for everything but client connections: jails' pipes, workspaces, logs, the agent. */
export const DESCRIPTOR_RESERVE = 512;

/** This process's soft descriptor limit (RLIMIT_NOFILE), or undefined where /proc does not say. */
export function descriptorLimit(limitsFile = '/proc/self/limits'): number | undefined {
  if (!existsSync(limitsFile)) return undefined;
  const line = readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
}

/**
 * The caps lowered to what the descriptor limit can hold: a cap above it would let a flood exhaust
 * descriptors before the cap applies (then accept() and jails fail for everyone).
 */
export function fitToDescriptors(limits: Readonly<HttpLimits>, descriptors: number | undefined): { limits: Readonly<HttpLimits>; clamped: boolean } {
  if (descriptors === undefined) return { limits, clamped: false };
  const room = Math.max(16, descriptors - DESCRIPTOR_RESERVE);
  if (limits.maxConnections <= room) return { limits, clamped: false };
  const maxConnections = room;
  // The strangers' cap stays below the total (a quarter of it is left for authenticated connections).
  const maxUnauthenticatedConnections = Math.min(limits.maxUnauthenticatedConnections, Math.floor((maxConnections * 3) / 4));
  return { limits: Object.freeze({ ...limits, maxConnections, maxUnauthenticatedConnections }), clamped: true };
}

/** At most one summary line of closed connections per this interval (a flood must not flood the log). */
const REPORT_INTERVAL_MS = 10_000;

export class ConnectionGuard {
  private readonly open = new Set<Socket>();
  /** Connections with no authenticated request yet, oldest first (a Set iterates in insertion order). */
  private readonly strangers = new Set<Socket>();
  private readonly bodies = new Map<IncomingMessage, BodyProgress>();
  private readonly counts = { refused: 0, evicted: 0, stalled: 0 };
  private reported = { refused: 0, evicted: 0, stalled: 0, at: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: Readonly<HttpLimits>,
    private readonly log: FastifyBaseLogger,
    /** Told about every connection the guard closes (metrics). */
    private readonly onClosed: (reason: 'refused' | 'evicted' | 'stalled') => void = () => undefined,
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (request: IncomingMessage) => this.track(request));
    const every = Math.max(50, Math.min(1000, Math.floor(this.limits.bodyIdleTimeoutMs / 4)));
    this.timer = setInterval(() => this.sweep(Date.now()), every);
    this.timer.unref();
  }

  detach(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The request on this socket authenticated: the connection no longer counts as a stranger's. */
  markAuthenticated(socket: Socket): void {
    this.strangers.delete(socket);
  }

  stats(): ConnectionStats {
    return { open: this.open.size, unauthenticated: this.strangers.size, ...this.counts };
  }

  private admit(socket: Socket): void {
    if (this.open.size >= this.limits.maxConnections) {
      this.counts.refused++;
      this.onClosed('refused');
      answerAndClose(socket, 'too_many_connections');
      this.report();
      return;
    }
    this.open.add(socket);
    this.strangers.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      this.strangers.delete(socket);
    });
    if (this.strangers.size > this.limits.maxUnauthenticatedConnections) this.evictStranger(socket);
  }

  /** Closes the oldest unauthenticated connection other than `newest`, idle ones first. */
  private evictStranger(newest: Socket): void {
    let victim: Socket | undefined;
    for (const socket of this.strangers) {
      if (socket === newest) continue;
      victim ??= socket;
      if (!responseStarted(socket)) {
        victim = socket;
        break;
      }
    }
    if (!victim) return;
    this.strangers.delete(victim);
    this.counts.evicted++;
    this.onClosed('evicted');
    answerAndClose(victim, 'too_many_connections');
    this.report();
  }

  private track(request: IncomingMessage): void {
    const socket = request.socket;
    if (!this.open.has(socket) || socket.writableEnded) {
      // A connection refused or evicted while its bytes were still being parsed: it gets no request.
      socket.destroy();
      return;
    }
    this.bodies.set(request, { socket, bytesRead: socket.bytesRead, since: Date.now() });
  }

  /** Drops finished requests; a body with no new byte for the idle timeout is a stall: 408 and close. */
  private sweep(now: number): void {
    for (const [request, progress] of this.bodies) {
      const { socket } = progress;
      if (request.complete || socket.destroyed) {
        this.bodies.delete(request);
      } else if (socket.bytesRead !== progress.bytesRead) {
        progress.bytesRead = socket.bytesRead;
        progress.since = now;
      } else if (now - progress.since >= this.limits.bodyIdleTimeoutMs) {
        this.bodies.delete(request);
        this.counts.stalled++;
        this.onClosed('stalled');
        answerAndClose(socket, 'request_timeout', 'the request body stalled');
      }
    }
    this.report();
  }

  /** One summary line per interval while connections are being closed, not one per connection. */
  private report(): void {
    const now = Date.now();
    if (now - this.reported.at < REPORT_INTERVAL_MS) return;
    const { refused, evicted, stalled } = this.counts;
    if (refused === this.reported.refused && evicted === this.reported.evicted && stalled === this.reported.stalled) return;
    this.log.warn(
      { refused: refused - this.reported.refused, evicted: evicted - this.reported.evicted, stalled: stalled - this.reported.stalled, open: this.open.size, unauthenticated: this.strangers.size },
      'connection limits applied',
    );
    this.reported = { refused, evicted, stalled, at: now };
  }
}

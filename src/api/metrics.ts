// Prometheus metrics in a registry owned by one app instance (no global default registry). Labels
// take values from closed sets only (route templates, states, error classes, exit reasons): never a
// tenant, id, command or secret, so label cardinality stays bounded and nothing sensitive leaks.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStats, RunRecord } from '../jobs/types.js';
import type { RunResult } from '../jail/spec.js';

const LIMIT_REASONS = new Set(['timeout', 'memory_limit', 'pids_limit', 'cpu_limit', 'file_size_limit', 'output_limit']);

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requestSeconds: Histogram<'method' | 'route' | 'status_code'>;
  private readonly stepSeconds: Histogram<'kind' | 'step'>;
  private readonly runs: Counter<'kind' | 'status' | 'error_class' | 'exit_reason'>;
  private readonly limitEvents: Counter<'kind' | 'limit'>;
  private readonly rateLimited: Counter;
  private readonly connectionsClosed: Counter<'reason'>;

  /** `stats` may read Redis (many hosts): it is read once per scrape, not once per gauge. */
  constructor(stats: () => JobStats | Promise<JobStats>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'confine_process_' });
    this.requestSeconds = new Histogram({
      name: 'confine_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    this.stepSeconds = new Histogram({
      name: 'confine_run_step_duration_seconds',
      help: 'Wall time of each jailed step (terraform init/validate/plan/show, command run).',
      labelNames: ['kind', 'step'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [this.registry],
    });
    this.runs = new Counter({
      name: 'confine_runs_total',
      help: 'Finished runs by kind, state, error class and exit reason of the last step.',
      labelNames: ['kind', 'status', 'error_class', 'exit_reason'],
      registers: [this.registry],
    });
    this.limitEvents = new Counter({
      name: 'confine_resource_limit_events_total',
      help: 'Jailed steps stopped by a resource limit (memory, pids, cpu, file size, output, wall time).',
      labelNames: ['kind', 'limit'],
      registers: [this.registry],
    });
    this.rateLimited = new Counter({
      name: 'confine_rate_limited_total',
      help: 'Requests refused by the per-tenant rate limit.',
      registers: [this.registry],
    });
    this.connectionsClosed = new Counter({
      name: 'confine_http_connections_closed_total',
      help: 'Connections the edge closed: refused (over HTTP_MAX_CONNECTIONS), evicted (over the unauthenticated cap), stalled (body idle).',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    let scrape: { at: number; stats: Promise<JobStats> } | undefined;
    const current = (): Promise<JobStats> => {
      if (!scrape || Date.now() - scrape.at > 250) scrape = { at: Date.now(), stats: Promise.resolve(stats()) };
      return scrape.stats;
    };
    const gauge = (name: string, help: string, read: (s: JobStats) => number): void => {
      new Gauge({ name, help, registers: [this.registry], async collect() { this.set(read(await current())); } });
    };
    gauge('confine_queue_depth', 'Runs waiting for a worker.', (s) => s.queued);
    gauge('confine_active_jails', 'Runs executing now (each holds at most one live jail).', (s) => s.running);
    gauge('confine_workers', 'Size of the worker pool.', (s) => s.workers);
    gauge('confine_queue_capacity', 'Queue capacity before back-pressure.', (s) => s.queueCapacity);
    gauge('confine_queue_bytes', 'Bytes of queued run payloads (bounded by QUEUE_MAX_BYTES).', (s) => s.queuedBytes);
    gauge('confine_run_record_bytes', 'Bytes of finished run records kept for polling (bounded by RUN_RECORDS_MAX_BYTES).', (s) => s.recordBytes);
    gauge('confine_abandoned_worker_slots', 'Worker slots released because an executor never returned after its forced finish (each is a bug to report).', (s) => s.abandonedSlots);
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestSeconds.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  countRateLimited(): void {
    this.rateLimited.inc();
  }

  /** Connection gauges (open, not yet authenticated), read from the edge's connection guard at scrape time. */
  watchConnections(read: () => { open: number; unauthenticated: number }): void {
    new Gauge({
      name: 'confine_http_connections',
      help: 'Open client connections; state="unauthenticated" counts those with no authenticated request yet.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const now = read();
        this.set({ state: 'open' }, now.open);
        this.set({ state: 'unauthenticated' }, now.unauthenticated);
      },
    });
  }

  /**
   * Many hosts (issue 12): workers with a live heartbeat in Redis, read at scrape time. With the queue
   * depth and busy slots (confine_queue_depth, confine_active_jails, both from Redis on an API node) it
   * tells an operator whether to add workers. A scrape while Redis is away reports 0 (unknown is not alive).
   */
  watchWorkers(alive: () => Promise<number>): void {
    new Gauge({
      name: 'confine_workers_alive',
      help: 'Workers with a live heartbeat (many hosts; confine_workers counts their slots).',
      registers: [this.registry],
      async collect() {
        this.set(await alive().catch(() => 0));
      },
    });
  }

  /** A connection the edge closed: refused (over the cap), evicted (over the strangers' cap), stalled (body idle). */
  countConnectionClosed(reason: 'refused' | 'evicted' | 'stalled'): void {
    this.connectionsClosed.inc({ reason });
  }

  /** Called once per run when it reaches a final state. */
  observeRun(record: RunRecord): void {
    const steps = stepsOf(record);
    for (const { name, result } of steps) {
      this.stepSeconds.observe({ kind: record.kind, step: name }, result.wall_ms / 1000);
      if (LIMIT_REASONS.has(result.exit_reason)) this.limitEvents.inc({ kind: record.kind, limit: result.exit_reason });
    }
    const last = steps.at(-1)?.result.exit_reason ?? 'none';
    const errorClass = record.error?.type ?? record.outcome?.result.error?.type ?? 'none';
    this.runs.inc({ kind: record.kind, status: record.state, error_class: errorClass, exit_reason: last });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function stepsOf(record: RunRecord): { name: string; result: RunResult }[] {
  const outcome = record.outcome;
  if (!outcome) return [];
  if (outcome.kind === 'terraform') return outcome.result.steps.map((s) => ({ name: s.name, result: s.result }));
  return outcome.result.run ? [{ name: 'run', result: outcome.result.run }] : [];
}

// A worker's own metrics (issue 12): a worker serves no API, yet it is where runs finish, so the run
// counters, step durations and resource-limit events of its runs are counted here (an API node counts only
// what it finishes itself: cancels while queued, lost workers' runs). GET /metrics and GET /health on
// HOST:WORKER_METRICS_PORT, nothing else; like the API's /metrics, no tenant data.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiMetrics } from '../api/metrics.js';
import type { WorkerPool } from '../jobs/index.js';
import type { RedisPorts } from '../jobs/redis/open-ports.js';
import type { JobStats } from '../jobs/types.js';

/** The pool's and the shared queue's numbers in the API's stats shape, so the same gauges read them. */
export function workerStats(pool: Pick<WorkerPool, 'stats' | 'events'>, queue: Pick<RedisPorts['queue'], 'size' | 'bytes' | 'limits'>): () => Promise<JobStats> {
  return async () => {
    const own = pool.stats();
    return {
      queued: await queue.size(),
      running: own.running,
      workers: own.workers,
      queueCapacity: queue.limits.capacity,
      queueTenantShare: queue.limits.perTenant,
      finished: { ...pool.events.totals },
      // Records live in Redis (the API node's gauges); a worker holds none.
      records: 0,
      recordBytes: 0,
      queuedBytes: await queue.bytes(),
      abandonedSlots: own.abandonedSlots,
    };
  };
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveWorkerMetrics(metrics: ApiMetrics, workerId: string, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') {
      metrics.render().then(
        (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: unknown) => response.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    if (request.method === 'GET' && path === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'healthy', worker: workerId }));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
  });
  // Bounded like any listener facing a network: slow or idle clients cannot hold it.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Unauthenticated service routes: service info (seed 003), health with the terraform version (seed 001),
// readiness (seed 004) and Prometheus metrics. None of them reveals tenant data.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../openapi-responses.js';
import type { ApiDeps } from '../ports.js';

export function registerPublicRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { info } = deps;
  app.get('/', {
    schema: {
      tags: ['service'],
      summary: 'Service information',
      response: { 200: Type.Object({ service: Type.String(), version: Type.String(), description: Type.String(), docs: Type.String(), openapi: Type.String(), endpoints: Type.Array(Type.String()) }) },
    },
  }, async () => ({
    service: info.name,
    version: info.version,
    description: 'Untrusted Terraform and allowlisted shell commands, each request in a fresh kernel jail.',
    docs: '/docs',
    openapi: '/openapi.json',
    endpoints: [
      'POST /api/v1/runs/commands', 'POST /api/v1/runs/scripts', 'POST /api/v1/runs/terraform', 'POST /api/v1/runs/terraform/archive',
      'GET /api/v1/runs/{id}', 'GET /api/v1/runs/{id}/plan', 'POST /api/v1/runs/{id}/cancel', 'POST /api/v1/sessions', 'DELETE /api/v1/sessions/{id}',
      'POST /api/v1/uploads', 'POST /internal/execute', 'POST /api/v1/execute', 'POST /execute', 'POST /sessions', 'DELETE /sessions/{session_id}',
      'GET /health', 'GET /ready', 'GET /status', 'GET /metrics',
    ],
  }));

  app.get('/health', {
    schema: {
      tags: ['service'],
      summary: 'Liveness, with the terraform version the service runs',
      response: { 200: Type.Object({ status: Type.String(), version: Type.String(), terraform_version: Type.Union([Type.String(), Type.Null()]), cgroup: Type.String(), uptime_seconds: Type.Number() }) },
    },
  }, async () => ({
    status: 'healthy',
    version: info.version,
    terraform_version: info.terraformVersion,
    cgroup: info.cgroupVersion,
    uptime_seconds: Math.round((Date.now() - info.startedAt.getTime()) / 1000),
  }));

  const Ready = Type.Object({
    status: Type.String(), queued: Type.Integer(), running: Type.Integer(), workers: Type.Integer(), queue_capacity: Type.Integer(),
    // Many hosts only: the shared state and the workers behind this API node.
    redis: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')])), workers_alive: Type.Optional(Type.Integer()), reason: Type.Optional(Type.String()),
  });
  app.get('/ready', {
    schema: { tags: ['service'], summary: 'Readiness: 503 while starting, draining, with a full queue, or (many hosts) with Redis unreachable or no worker alive', response: { 200: Ready, 503: Ready } },
  }, async (_request, reply) => {
    // Shared state first: with Redis away the queue statistics (read from Redis) cannot be had either.
    const shared = deps.readiness ? await deps.readiness() : undefined;
    const stats = shared?.redis === 'down' ? undefined : await deps.jobs.stats();
    const ready = deps.ready() && (shared?.ready ?? true) && stats !== undefined && stats.queued < stats.queueCapacity;
    if (!ready) void reply.code(503).header('retry-after', '5');
    return {
      status: ready ? 'ready' : 'not_ready',
      queued: stats?.queued ?? 0, running: stats?.running ?? 0, workers: stats?.workers ?? 0, queue_capacity: stats?.queueCapacity ?? 0,
      ...(shared ? { redis: shared.redis, workers_alive: shared.workers_alive, ...(shared.reason === undefined ? {} : { reason: shared.reason }) } : {}),
    };
  });

  app.get('/metrics', {
    schema: { tags: ['service'], summary: 'Prometheus metrics', produces: ['text/plain'], response: { 200: Type.String(), ...errorResponses([], false) } },
  }, async (_request, reply) => {
    return reply.type(deps.metrics.contentType).send(await deps.metrics.render());
  });
}

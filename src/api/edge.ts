// The HTTP edge, wired in one place: the server's timeouts (headers, whole request, idle keep-alive),
// catalogue answers for errors before routing, and the connection guard with its caps fitted to the
// descriptor limit. buildApp() spreads `edgeServerOptions` into Fastify's options and calls `installEdge`.
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { HttpLimits } from '../config/settings.js';
import { ConnectionGuard, descriptorLimit, fitToDescriptors } from './connections.js';
import { clientErrorHandler, frameworkErrorHandler } from './edge-errors.js';
import type { ApiMetrics } from './metrics.js';

export interface Edge {
  limits: Readonly<HttpLimits>;
  /** The configured caps did not fit the descriptor limit and were lowered. */
  clamped: boolean;
}

export function fitEdge(configured: Readonly<HttpLimits>): Edge {
  return fitToDescriptors(configured, descriptorLimit());
}

/** Fastify server options for the edge. `log` is read lazily (the app that owns it does not exist yet). */
export function edgeServerOptions(limits: Readonly<HttpLimits>, log: () => FastifyInstance['log']): FastifyHttpOptions<Server> {
  return {
    // Fastify's defaults leave the headers wait and the whole request unlimited; node checks these
    // timeouts on an interval, so the interval follows the headers timeout.
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: clientErrorHandler(log),
  };
}

/** Starts the connection guard on the app's server; returns it (the auth hook marks connections authenticated). */
export function installEdge(app: FastifyInstance, edge: Edge, metrics: ApiMetrics): ConnectionGuard {
  if (edge.clamped) {
    app.log.warn(
      { HTTP_MAX_CONNECTIONS: edge.limits.maxConnections, HTTP_MAX_UNAUTHENTICATED_CONNECTIONS: edge.limits.maxUnauthenticatedConnections, descriptors: descriptorLimit() },
      'connection caps lowered to fit the descriptor limit (raise ulimit -n to keep them)',
    );
  }
  const guard = new ConnectionGuard(edge.limits, app.log, (reason) => metrics.countConnectionClosed(reason));
  metrics.watchConnections(() => guard.stats());
  guard.attach(app.server);
  app.addHook('onClose', async () => guard.detach());
  return guard;
}

// buildApp(deps) -> a Fastify instance, separate from listen() so tests and the CLI wire the same app.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import pino, { type DestinationStream } from 'pino';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { FailedAuthAudit } from './auth-audit.js';
import type { Principal } from './auth/index.js';
import { registerDocs } from './docs.js';
import { edgeServerOptions, fitEdge, installEdge } from './edge.js';
import { ApiError, ERROR_CATALOGUE, errorBody, type ErrorCode } from './errors.js';
import { registerJsonBody } from './json-body.js';
import { configuredSecrets, createLogger } from './logging.js';
import type { ApiDeps } from './ports.js';
import { createRateLimit, RateLimitUnavailableError } from './rate-limit.js';
import { registerPublicRoutes } from './routes/public.js';
import { registerRunRoutes } from './routes/runs.js';
import { registerSeedRoutes } from './routes/seed.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { registerUploadRoutes } from './routes/uploads.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const MiB = 1024 * 1024;
/** Request bodies are shallow: the deepest schema (a files map inside a request) is 2 levels. */
const JSON_MAX_DEPTH = 32;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Listen backlog: a burst of concurrent connects beyond node's default (511) overflows the accept queue and
 * clients see resets instead of a 429/503 answer. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

export interface BuildAppOptions {
  /** Disable request logging (benchmarks). */
  logger?: boolean;
  /** Where logs go instead of stdout (tests read them to check redaction). */
  logStream?: DestinationStream;
}

export async function buildApp(deps: ApiDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const loggerInstance: FastifyBaseLogger | undefined =
    options.logger === false ? undefined : createLogger(config.logLevel, configuredSecrets(config), options.logStream ?? pino.destination({ dest: 1, sync: false }));
  const edge = fitEdge(config.http);
  const app: FastifyInstance = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    bodyLimit: Math.floor(config.bodyLimitMiB * MiB),
    // A client-supplied request id is echoed only if it is a plain token (header/log injection).
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    // Strangers cannot hold sockets open, and errors before routing answer the catalogue (src/api/edge.ts).
    ...edgeServerOptions(edge.limits, () => app.log),
  });
  const guard = installEdge(app, edge, deps.metrics);
  const failedLogins = new FailedAuthAudit(deps.audit);
  app.addHook('onClose', async () => failedLogins.close());
  app.decorateRequest('principal', null);
  // JSON and multipart only: anything else (text/plain included) is 415, not a string the schema rejects.
  app.removeContentTypeParser('text/plain');
  registerJsonBody(app, {
    maxBytes: Math.floor(config.bodyLimitMiB * MiB),
    maxDepth: JSON_MAX_DEPTH,
    // A files map of N entries has N ':' and N-1 ',': room for the largest allowed map and the other fields.
    maxMembers: 2 * Math.max(config.tfMaxFiles, config.execMaxInputFiles) + 256,
  });

  await app.register(multipart, {
    limits: { fileSize: Math.floor(config.uploadLimitMiB * MiB), files: 1, fields: 8, fieldSize: 64 * 1024, parts: 10, headerPairs: 100 },
    throwFileSizeLimit: true,
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    // While draining, answered connections close instead of idling through the keep-alive timeout
    // (72 s in Fastify), which would hold shutdown open.
    if (!deps.ready()) reply.header('connection', 'close');
    // A failed login keeps no socket: the connection closes after the 401 (node ends it once sent).
    if (reply.statusCode === 401) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('not_found', undefined, request.id));
  });

  await registerDocs(app);
  registerPublicRoutes(app, deps);

  const limiter = deps.rateLimit ?? createRateLimit(config);
  await app.register(async (scope) => {
    // Authentication and the per-tenant rate limit run before the body is read: an anonymous or
    // throttled client cannot make the service buffer a large upload.
    scope.addHook('onRequest', async (request, reply) => {
      request.principal = await deps.auth.authenticate(request).catch((error: unknown) => {
        if (error instanceof ApiError) {
          failedLogins.record({ event: 'auth_failed', request_id: request.id, what: { route: request.routeOptions.url ?? '' }, status_code: 401 });
        }
        throw error;
      });
      // Every later log line of this request names its tenant.
      request.log = request.log.child({ tenant: request.principal.tenant });
      const decision = await Promise.resolve(limiter.hit(request.principal.tenant)).catch((error: unknown) => {
        // The shared counter is away (Redis restarting): refuse, never admit unmetered.
        if (error instanceof RateLimitUnavailableError) throw new ApiError('shared_state_unavailable', undefined, 5, error);
        throw error;
      });
      reply.header('x-ratelimit-limit', decision.limit);
      reply.header('x-ratelimit-remaining', decision.remaining);
      if (!decision.allowed) {
        deps.metrics.countRateLimited();
        throw new ApiError('rate_limited', undefined, decision.resetSeconds);
      }
      // Only now does the connection stop counting against the strangers' cap.
      guard.markAuthenticated(request.raw.socket);
    });
    registerRunRoutes(scope, deps);
    registerSessionRoutes(scope, deps);
    registerUploadRoutes(scope, deps);
    registerSeedRoutes(scope, deps);
  });
  return app;
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('unauthorized');
  return request.principal;
}

function sendError(error: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof ApiError) {
    // A 5xx mapped from a lower layer keeps its cause in the log (never in the response).
    if (error.status >= 500 && error.cause !== undefined) request.log.error({ err: error.cause, code: error.code }, 'request failed');
    if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
    void reply.code(error.status).send(errorBody(error.code, error.detail, request.id));
    return;
  }
  const code = classify(error, request.isMultipart());
  if (code === 'internal_error') request.log.error({ err: error }, 'request failed');
  const detail = code === 'validation_failed' || code === 'invalid_multipart' ? error.message : undefined;
  void reply.code(ERROR_CATALOGUE[code].status).send(errorBody(code, detail, request.id));
}

function classify(error: FastifyError | Error, multipartRequest: boolean): ErrorCode {
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return 'validation_failed';
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'invalid_json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return 'payload_too_large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
    case 'FST_PROTO_VIOLATION':
      return 'invalid_multipart';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'bad_request';
    default:
      break;
  }
  // busboy's parse errors ("Unexpected end of form", "Malformed part header") carry no code; only a
  // multipart request can produce them.
  if (multipartRequest && /multipart|boundary|end of form|part header/i.test(error.message)) return 'invalid_multipart';
  if (fastifyError.statusCode === 400) return 'bad_request';
  return 'internal_error';
}

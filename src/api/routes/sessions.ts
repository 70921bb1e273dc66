// Sessions: a workspace kept between requests (TTL refreshed on use); every request still runs in a
// fresh jail. API v1 (server-chosen ids) and seed 004 (client-chosen `session_id`, idempotent).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../app.js';
import { ApiError } from '../errors.js';
import { errorResponses, SECURED } from '../openapi-responses.js';
import type { ApiDeps, SessionInfo } from '../ports.js';
import { IdParams, SessionCreateBody, SessionView } from '../schemas.js';

export function presentSession(session: SessionInfo): Record<string, unknown> {
  return { id: session.id, session_id: session.name ?? session.id, created_at: session.created_at, expires_at: session.expires_at, ttl_seconds: session.ttl_seconds };
}

const SessionParams = Type.Object({ session_id: IdParams.properties.id });

export function registerSessionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  // session_host_gone: on many hosts, a named session whose worker stopped (it is closed; opening again starts afresh).
  const limits = errorResponses(['validation_failed', 'invalid_json', 'too_many_sessions', 'session_host_gone']);

  app.post<{ Body: SessionCreateBody | undefined }>('/api/v1/sessions', {
    schema: { tags: ['sessions'], summary: 'Create a session', security: SECURED, body: Type.Optional(SessionCreateBody), response: { 201: SessionView, ...limits } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const name = request.body?.name ?? request.body?.session_id;
    const session = await deps.sessions.open(principal.tenant, name);
    deps.audit.record({ event: 'session_created', tenant: principal.tenant, auth: principal.method, request_id: request.id, session_id: session.id });
    return reply.code(201).send(presentSession(session));
  });

  app.get<{ Params: IdParams }>('/api/v1/sessions/:id', {
    schema: { tags: ['sessions'], summary: 'Get a session (refreshes its TTL)', security: SECURED, params: IdParams, response: { 200: SessionView, ...errorResponses(['session_not_found', 'session_host_gone']) } },
  }, async (request) => {
    const session = await deps.sessions.touch(principalOf(request).tenant, request.params.id);
    if (!session) throw new ApiError('session_not_found');
    return presentSession(session);
  });

  app.delete<{ Params: IdParams }>('/api/v1/sessions/:id', {
    schema: { tags: ['sessions'], summary: 'Delete a session and its workspace', security: SECURED, params: IdParams, response: { 204: Type.Null(), ...errorResponses(['session_not_found']) } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (!(await deps.sessions.close(principal.tenant, request.params.id))) throw new ApiError('session_not_found');
    deps.audit.record({ event: 'session_deleted', tenant: principal.tenant, auth: principal.method, request_id: request.id, session_id: request.params.id });
    return reply.code(204).send();
  });

  // Seed 004.
  app.post<{ Body: SessionCreateBody | undefined }>('/sessions', {
    schema: { tags: ['seed'], summary: 'Create a session (seed 004; idempotent for a given session_id)', security: SECURED, body: Type.Optional(SessionCreateBody), response: { 200: SessionView, ...limits } },
  }, async (request) => {
    const principal = principalOf(request);
    const session = await deps.sessions.open(principal.tenant, request.body?.session_id ?? request.body?.name);
    deps.audit.record({ event: 'session_created', tenant: principal.tenant, auth: principal.method, request_id: request.id, session_id: session.id });
    return presentSession(session);
  });

  app.delete<{ Params: { session_id: string } }>('/sessions/:session_id', {
    schema: {
      tags: ['seed'], summary: 'Tear down a session (seed 004)', security: SECURED, params: SessionParams,
      response: { 200: Type.Object({ session_id: Type.String(), deleted: Type.Boolean() }), ...errorResponses(['session_not_found']) },
    },
  }, async (request) => {
    const principal = principalOf(request);
    if (!(await deps.sessions.close(principal.tenant, request.params.session_id))) throw new ApiError('session_not_found');
    deps.audit.record({ event: 'session_deleted', tenant: principal.tenant, auth: principal.method, request_id: request.id, session_id: request.params.session_id });
    return { session_id: request.params.session_id, deleted: true };
  });
}

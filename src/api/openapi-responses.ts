// Route documentation helpers: error responses are generated from the catalogue, so the OpenAPI
// document and the codes the service answers with cannot drift apart.
import type { TSchema } from '@sinclair/typebox';
import { ERROR_CATALOGUE, type ErrorCode } from './errors.js';
import { ErrorSchema } from './schemas.js';

// Connection-level answers (src/api/edge-errors.ts, connections.ts): any route may get them, before routing.
const ALWAYS: ErrorCode[] = ['invalid_url', 'request_timeout', 'headers_too_large', 'too_many_connections', 'internal_error'];
// Authenticated routes consult the rate limit, which lives in Redis when API nodes share it.
const AUTHENTICATED: ErrorCode[] = ['unauthorized', 'rate_limited', 'shared_state_unavailable'];

export function errorResponses(codes: readonly ErrorCode[], authenticated = true): Record<string, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, ...(authenticated ? AUTHENTICATED : []), ...ALWAYS]) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...new Set([...(byStatus.get(status) ?? []), code])]);
  }
  const responses: Record<string, TSchema> = {};
  for (const [status, list] of byStatus) {
    // The description is the machine-readable list (tests parse it): swagger drops unknown keywords here.
    responses[String(status)] = { ...ErrorSchema, description: `Error codes: ${list.join(', ')}` };
  }
  return responses;
}

export const SECURED: { [scheme: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }];

// The error catalogue: every error the HTTP API answers with has a stable code, an HTTP status and a
// message. Clients branch on `code`; messages may improve. A test checks this table against OpenAPI.
import type { ErrorClass } from '../domains/errors.js';

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_url: { status: 400, message: 'The request URL is malformed (e.g. bad percent-encoding).' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  invalid_multipart: { status: 400, message: 'The multipart body is malformed or misses the archive part.' },
  validation_failed: { status: 400, message: 'The request does not match the schema.' },
  unauthorized: { status: 401, message: 'Missing or invalid credentials (X-API-Key or Authorization: Bearer).' },
  not_found: { status: 404, message: 'No such resource.' },
  run_not_found: { status: 404, message: 'No such run.' },
  session_not_found: { status: 404, message: 'No such session.' },
  session_host_gone: { status: 410, message: 'The host holding this session\'s workspace is gone; open a new session.' },
  artifact_not_found: { status: 404, message: 'No such artifact.' },
  plan_not_available: { status: 404, message: 'This run has no plan JSON (not a plan run, or it did not finish).' },
  run_not_finished: { status: 409, message: 'The run has not finished yet; poll it or submit with ?wait=true.' },
  request_timeout: { status: 408, message: 'The request was not received in time (headers, body, or a stalled body); the connection is closed.' },
  payload_too_large: { status: 413, message: 'The request body exceeds the configured limit.' },
  artifact_quota_exceeded: { status: 413, message: 'The tenant\'s artifact storage quota is used up; delete uploads (DELETE /api/v1/uploads/{id}) or wait for them to expire.' },
  headers_too_large: { status: 431, message: 'The request headers exceed the size limit.' },
  unsupported_media_type: { status: 415, message: 'Use application/json or multipart/form-data.' },
  rate_limited: { status: 429, message: 'Too many requests for this tenant; retry after the indicated delay.' },
  too_many_sessions: { status: 429, message: 'The tenant or the service holds its maximum number of sessions; delete one first.' },
  tenant_queue_full: { status: 429, message: 'Too many queued runs for this tenant; retry after the indicated delay.' },
  service_queue_full: { status: 503, message: 'The service queue is full; retry after the indicated delay.' },
  shutting_down: { status: 503, message: 'The service is shutting down.' },
  storage_unavailable: { status: 503, message: 'Artifact storage is not configured or unreachable.' },
  too_many_connections: { status: 503, message: 'The service holds its maximum number of connections; retry later.' },
  shared_state_unavailable: { status: 503, message: 'The state API nodes and workers share (Redis) is unreachable; retry after the indicated delay.' },
  internal_error: { status: 500, message: 'Internal error; the incident is logged with the request id.' },
  // The domain error classes: a run that ended with one of these is a completed request (its result
  // carries `error.type`); these codes answer a request for something that run could not produce
  // (e.g. the plan of a run that failed validation).
  validation_error: { status: 422, message: 'The run failed: the configuration or request is invalid.' },
  security_violation: { status: 422, message: 'The run failed: the request was blocked by policy.' },
  provider_error: { status: 422, message: 'The run failed: provider initialization failed.' },
  resource_limit: { status: 422, message: 'The run failed: a resource limit was exceeded.' },
  execution_timeout: { status: 422, message: 'The run failed: it exceeded its time limit.' },
  unknown_error: { status: 500, message: 'The run failed for an unexpected reason.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** Every domain error class has a catalogue entry of the same name. */
export const DOMAIN_ERROR_CODES: Record<ErrorClass, ErrorCode> = {
  validation_error: 'validation_error',
  security_violation: 'security_violation',
  provider_error: 'provider_error',
  resource_limit: 'resource_limit',
  execution_timeout: 'execution_timeout',
  unknown_error: 'unknown_error',
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; detail?: string; request_id?: string };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly retryAfterSeconds?: number,
    cause?: unknown,
  ) {
    super(ERROR_CATALOGUE[code].message, cause === undefined ? undefined : { cause });
    this.status = ERROR_CATALOGUE[code].status;
  }
}

/** Strips control characters so nothing a client sent can split a header or a log line. */
export function neutralise(text: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function errorBody(code: ErrorCode, detail?: string, requestId?: string): ErrorBody {
  return {
    error: {
      code,
      message: ERROR_CATALOGUE[code].message,
      ...(detail === undefined ? {} : { detail: neutralise(detail) }),
      ...(requestId === undefined ? {} : { request_id: requestId }),
    },
  };
}

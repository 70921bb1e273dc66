// Structured logs (pino) and the separate audit stream. Secrets never reach either: headers that
// carry credentials, request credentials and keys are redacted by path, and the request serializer
// logs only method, route and ids (no headers, no bodies). pino writes JSON, so a newline a client
// puts in a field is escaped and cannot forge a log line (log injection).
import pino, { type Logger, type LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'credentials',
  '*.credentials',
  '*.*.credentials',
  'aws_secret_access_key',
  '*.aws_secret_access_key',
  'aws_session_token',
  '*.aws_session_token',
  'api_key',
  '*.api_key',
  'token',
  '*.token',
  'jwt',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'confine' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req(request: { method?: string; url?: string; id?: string; routeOptions?: { url?: string } }) {
        // The path only: a query string could carry a token someone pasted into a URL.
        const path = (request.url ?? '').split('?')[0];
        return { method: request.method, path, request_id: request.id };
      },
    },
  };
}

/** An audit record: who did what, how long it took, what it used and how it ended. */
export interface AuditEvent {
  event: string;
  tenant?: string;
  auth?: string;
  request_id?: string;
  run_id?: string;
  session_id?: string;
  kind?: string;
  what?: Record<string, unknown>;
  state?: string;
  error_class?: string;
  exit_reason?: string;
  duration_ms?: number;
  resources?: { wall_ms: number; cpu_ms: number; peak_memory_bytes: number };
  status_code?: number;
}

export interface AuditLog {
  record(event: AuditEvent): void;
  close(): Promise<void>;
}

/** Audit goes to its own file (append, synchronous writes) or, with no path, to stdout tagged `log: audit`. */
export function createAuditLog(path: string): AuditLog {
  const destination = path ? pino.destination({ dest: path, append: true, mkdir: true, sync: true }) : pino.destination({ dest: 1, sync: false });
  const logger: Logger = pino(
    { base: { service: 'confine', log: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } },
    destination,
  );
  return {
    record(event) {
      logger.info(event);
    },
    close() {
      return new Promise((resolve) => {
        logger.flush(() => resolve());
      });
    },
  };
}

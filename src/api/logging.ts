// Structured logs (pino) and the separate audit stream. Secrets never reach either: every argument of
// every log call, at every level and from every child logger (Fastify's, plugins'), passes the
// redactor (credential-like keys at any depth, bearer/JWT-shaped strings, configured secret values);
// the known paths are also redacted by pino, and the request serializer logs only method, route and
// ids (no headers, no bodies). pino writes JSON, so a newline a client puts in a field is escaped and
// cannot forge a log line (log injection).
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config/settings.js';
import { createRedactor, type Redactor } from './redact.js';

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

/** Secret values from the configuration, censored wherever they would appear in a log string. */
export function configuredSecrets(config: Readonly<Config>): string[] {
  const keys = config.apiKeys.split(',').map((item) => item.trim()).map((item) => (item.indexOf(':') > 0 ? item.slice(item.indexOf(':') + 1) : item));
  return [...keys, config.jwtSecret, config.s3.secretAccessKey].filter((value) => value.length > 0);
}

/**
 * pino options shared by the service log and the audit log: every log call's arguments go through
 * the redactor (objects at any depth, errors, messages).
 */
function redacting(redactor: Redactor): Pick<LoggerOptions, 'hooks' | 'redact'> {
  return {
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    hooks: {
      logMethod(args, method) {
        // `log.error(err)` is pino's shorthand for `{ err }` with the error's message: kept, but scrubbed.
        const [first, ...rest] = args;
        const shaped = first instanceof Error ? [{ err: first }, ...(rest.length > 0 ? rest : [first.message])] : args;
        const clean = shaped.map((arg) => redactor.value(arg)) as Parameters<typeof method>;
        method.apply(this, clean);
      },
    },
  };
}

/**
 * The destination, behind a last scrub of each finished line. It catches what bypasses logMethod:
 * child-logger bindings (pino serializes them at `child()`; its bindings formatter applies only to
 * the root) and what serializers produce.
 */
function scrubbed(destination: DestinationStream, redactor: Redactor): DestinationStream {
  const flushable = destination as DestinationStream & { flush?: (cb: (error?: Error) => void) => void };
  return {
    write: (line: string) => destination.write(redactor.line(line)),
    ...(typeof flushable.flush === 'function' ? { flush: (cb: (error?: Error) => void) => flushable.flush?.(cb) } : {}),
  } as DestinationStream;
}

function loggerOptions(level: string, redactor: Redactor): LoggerOptions {
  return {
    level,
    base: { service: 'confine' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...redacting(redactor),
    serializers: {
      req(request: { method?: string; url?: string; id?: string; routeOptions?: { url?: string } }) {
        // The path only: a query string could carry a token someone pasted into a URL.
        const path = (request.url ?? '').split('?')[0];
        return { method: request.method, path, request_id: request.id };
      },
    },
  };
}

/** The service logger; `secrets` are literal values never to be written (configuredSecrets). */
export function createLogger(level: string, secrets: readonly string[], destination: DestinationStream): Logger {
  const redactor = createRedactor(secrets);
  return pino(loggerOptions(level, redactor), scrubbed(destination, redactor));
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
export function createAuditLog(path: string, secrets: readonly string[] = []): AuditLog {
  const destination = path ? pino.destination({ dest: path, append: true, mkdir: true, sync: true }) : pino.destination({ dest: 1, sync: false });
  const redactor = createRedactor(secrets);
  const logger: Logger = pino(
    { base: { service: 'confine', log: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime, ...redacting(redactor) },
    scrubbed(destination, redactor),
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

// What the HTTP layer needs from the layers below, as plain interfaces. The composition root
// (src/app) adapts the jobs, sessions and artifacts implementations to these; tests and the CLI can
// wire the same app with the same pieces.
import type { Config } from '../config/settings.js';
import type { Readable } from 'node:stream';
import type { JobService } from '../jobs/types.js';
import type { SessionInfo } from '../sessions/index.js';
import type { AuditLog } from './logging.js';
import type { ApiMetrics } from './metrics.js';
import type { RateLimit } from './rate-limit.js';
import type { Authenticator } from './auth/index.js';

export type { SessionInfo };

export interface SessionPort {
  /** Creates a session; with a client-chosen `name` (seed 004) it is idempotent within the tenant. */
  open(tenant: string, name?: string): Promise<SessionInfo>;
  /** By id or by client-chosen name; undefined for unknown and other tenants' sessions alike. Refreshes the TTL. */
  touch(tenant: string, idOrName: string): Promise<SessionInfo | undefined>;
  /** By id or by client-chosen name; false for unknown and other tenants' sessions alike. */
  close(tenant: string, idOrName: string): Promise<boolean>;
}

export interface StoredArchiveView {
  reference: string;
  bytes: number;
  kind: 'zip' | 'tar.gz';
  sha256: string;
}

export interface ArtifactPort {
  /**
   * Streams an archive (kind told by its magic bytes) into the tenant's store without buffering it:
   * 'upload' for a reusable upload, 'scratch' for a per-run copy deleted when its run ends. Refuses with
   * invalid_multipart (not an archive), payload_too_large or artifact_quota_exceeded.
   */
  storeArchive(tenant: string, source: AsyncIterable<Buffer>, purpose: 'upload' | 'scratch'): Promise<StoredArchiveView>;
  /** A `workspace_reference` / `upload_id` the tenant owns, within the size limit; false when unknown or foreign. Never reads it. */
  checkWorkspace(tenant: string, reference: string): Promise<boolean>;
  /** Deletes one of the tenant's uploads; false when unknown or foreign. */
  deleteUpload(tenant: string, reference: string): Promise<boolean>;
  /** Deletes a scratch archive (a run that was never queued). */
  discardScratch(tenant: string, reference: string): Promise<void>;
  /** Stores a run's plan JSON and returns its `plan_reference`. */
  storePlan(tenant: string, runId: string, plan: unknown): Promise<string>;
  /** A stored plan the tenant owns, as a byte stream; undefined when unknown or foreign. */
  openPlan(tenant: string, reference: string): Promise<Readable | undefined>;
}

export interface ServiceInfo {
  name: string;
  version: string;
  terraformVersion: string | null;
  cgroupVersion: string;
  startedAt: Date;
}

export interface ApiDeps {
  config: Readonly<Config>;
  jobs: JobService;
  sessions: SessionPort;
  artifacts: ArtifactPort;
  auth: Authenticator;
  audit: AuditLog;
  metrics: ApiMetrics;
  info: ServiceInfo;
  /** Per-tenant limiter; default: in-process fixed window from RATE_LIMIT_* settings. */
  rateLimit?: RateLimit;
  /** false while starting or draining: /ready answers 503. */
  ready: () => boolean;
  /** Many hosts: whether the shared state answers and a worker is alive (src/app/readiness.ts); absent when embedded. */
  readiness?: () => Promise<Readiness>;
}

/** What /ready adds on an API node of many hosts. */
export interface Readiness {
  /** false: /ready answers 503 (Redis unreachable, or no worker alive to run what is queued). */
  ready: boolean;
  redis: 'up' | 'down';
  /** Workers with a live heartbeat (0 when Redis is down: unknown is not alive). */
  workers_alive: number;
  /** Why not ready, for the operator reading the probe. */
  reason?: string;
}

// The artifact facade the API and the executor use: uploads, plans, and workspace_reference resolution,
// on top of whichever store the configuration selects (S3 when S3_BUCKET is set, else a local directory).
// Everything a tenant stores is bounded: uploads are streamed in under a byte cap and the tenant's quota,
// every object expires after a TTL (swept periodically and at start), and uploads can be deleted.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/settings.js';
import { DomainError } from '../domains/errors.js';
import type { TerraformInput } from '../domains/terraform/types.js';
import { LocalArtifactStore } from './local.js';
import { QuotaLedger } from './quota.js';
import { S3ArtifactStore } from './s3.js';
import { prepend, readHead, sha256Through } from './streams.js';
import { accountedBytes, ArtifactTooLargeError, keyOfArtifactReference, type ArtifactStore, type StoredObject } from './store.js';

export { LocalArtifactStore } from './local.js';
export { ArtifactQuotaError } from './quota.js';
export { S3ArtifactStore } from './s3.js';
export { ARTIFACT_SCHEME, ArtifactTooLargeError, OBJECT_FLOOR_BYTES, tenantNamespace, validateKey, type ArtifactStore, type GetOptions, type ObjectInfo, type StoredObject } from './store.js';

export type ArchiveKind = 'zip' | 'tar.gz';

/** Archive type from magic bytes, never from a name or a client-supplied type. */
export function detectArchive(bytes: Buffer): ArchiveKind | undefined {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05) && (bytes[3] === 0x04 || bytes[3] === 0x06)) {
    return 'zip';
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
  return undefined;
}

/** The stream is neither a zip nor a gzip (told by its first bytes). */
export class NotAnArchiveError extends DomainError {
  constructor() {
    super('validation_error', 'the archive is neither a zip nor a gzip-compressed tar');
  }
}

/** Bytes detectArchive needs to decide. */
const MAGIC_BYTES = 4;

export function createArtifactStore(config: Readonly<Pick<Config, 'stateDir' | 'artifactsDir' | 's3'>>): ArtifactStore {
  if (config.s3.bucket) return S3ArtifactStore.fromConfig(config.s3);
  return new LocalArtifactStore(config.artifactsDir || join(config.stateDir, 'artifacts'));
}

export interface ArtifactsOptions {
  /** Largest archive a workspace_reference may name (read into memory for intake), and largest upload. */
  maxWorkspaceBytes: number;
  /** Bytes one tenant may keep stored (uploads, run archives, plans); default: unbounded. */
  quotaBytes?: number;
  /** Objects older than this are deleted by sweepExpired(); default: never. */
  ttlMs?: number;
  /** Per-run archive copies (`runs/`) older than this are deleted by sweepExpired(); default: never. */
  scratchTtlMs?: number;
  now?: () => number;
}

/** Where a streamed archive goes: a reusable upload, or a per-run copy deleted when its run ends. */
export type ArchivePurpose = 'upload' | 'scratch';

export interface StoredArchive extends StoredObject {
  kind: ArchiveKind;
  /** Digest of the stored bytes (the audit log names archives by it). */
  sha256: string;
}

export class Artifacts {
  private readonly quota: QuotaLedger | undefined;
  private readonly now: () => number;
  // tenant -> upper estimate of its stored bytes (see keepPlansWithinQuota); one number per tenant that
  // stored a plan since start.
  private readonly planUsageEstimate = new Map<string, number>();

  constructor(
    readonly store: ArtifactStore,
    private readonly options: Readonly<ArtifactsOptions>,
  ) {
    this.quota = options.quotaBytes === undefined ? undefined : new QuotaLedger(options.quotaBytes);
    this.now = options.now ?? Date.now;
  }

  /** Stores an uploaded archive; the reference can be passed later as `workspace_reference`. */
  async storeUpload(tenant: string, data: Buffer, kind: ArchiveKind): Promise<string> {
    if (detectArchive(data) !== kind) throw new DomainError('validation_error', `upload is not a ${kind} archive`);
    const stored = await this.storeArchiveStream(tenant, (async function* () {
      yield data;
    })(), 'upload');
    return stored.reference;
  }

  /**
   * Streams an archive into the store: its kind from the first bytes (NotAnArchiveError otherwise), at
   * most the upload limit (ArtifactTooLargeError) and what is left of the tenant's quota
   * (ArtifactQuotaError). Nothing is kept when any of these fails or the source errors.
   */
  async storeArchiveStream(tenant: string, source: AsyncIterable<Buffer>, purpose: ArchivePurpose): Promise<StoredArchive> {
    const limit = this.options.maxWorkspaceBytes;
    const { head, rest } = await readHead(source, MAGIC_BYTES);
    const kind = detectArchive(head);
    if (!kind) throw new NotAnArchiveError();
    const key = `${purpose === 'upload' ? 'uploads' : 'runs'}/${randomBytes(16).toString('hex')}.${kind === 'zip' ? 'zip' : 'tar.gz'}`;
    const reservation = this.quota?.reserve(tenant, await this.store.usage(tenant), limit);
    const cap = reservation?.granted ?? limit;
    try {
      const hashed = sha256Through(prepend(head, rest));
      const stored = await this.store.putStream(tenant, key, hashed.stream, { maxBytes: cap });
      return { ...stored, kind, sha256: hashed.digest() };
    } catch (error) {
      if (error instanceof ArtifactTooLargeError && this.quota && cap < limit) throw this.quota.exceeded(tenant, await this.store.usage(tenant));
      throw error;
    } finally {
      reservation?.release();
    }
  }

  /**
   * Checks that a `workspace_reference` names an object the tenant owns and that it is within the size
   * limit, without reading it (the executor reads it when the run starts). false when unknown or foreign.
   */
  async checkWorkspace(tenant: string, reference: string): Promise<boolean> {
    const info = await this.store.stat(tenant, reference);
    if (!info) return false;
    if (info.bytes > this.options.maxWorkspaceBytes) throw new ArtifactTooLargeError(this.options.maxWorkspaceBytes);
    return true;
  }

  /** Deletes one of the tenant's uploads; false when unknown, foreign, or not an upload (plans expire). */
  async deleteUpload(tenant: string, reference: string): Promise<boolean> {
    if (!isUploadReference(reference)) return false;
    return this.store.delete(tenant, reference);
  }

  /** Deletes a per-run archive copy once its run is final. */
  async discardScratch(tenant: string, reference: string): Promise<void> {
    await this.store.delete(tenant, reference);
  }

  /** The stored plan as a stream (served as is, never parsed); undefined when unknown or foreign. */
  async openPlan(tenant: string, reference: string): Promise<Readable | undefined> {
    return this.store.open(tenant, reference);
  }

  /**
   * Deletes every object older than the TTL (all tenants), and per-run archive copies older than the
   * scratch TTL (a crashed service never deleted them; no run waits or runs that long); returns how many.
   */
  async sweepExpired(): Promise<number> {
    let removed = 0;
    if (this.options.scratchTtlMs !== undefined) removed += await this.store.expire(this.now() - this.options.scratchTtlMs, 'runs/');
    if (this.options.ttlMs !== undefined) removed += await this.store.expire(this.now() - this.options.ttlMs);
    return removed;
  }

  /** Runs sweepExpired every intervalMs until the returned function is called; failures go to onError. */
  startSweeper(intervalMs: number, onError: (error: unknown) => void): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return; // a slow sweep (large bucket) never overlaps the next
      running = true;
      this.sweepExpired().catch(onError).finally(() => (running = false));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Resolves a `workspace_reference` (`artifact://...` or `s3://bucket/...`) the tenant owns to a Terraform
   * input. undefined when unknown or another tenant's; a validation_error when it is not a zip or tar.gz.
   */
  async fetchWorkspace(tenant: string, reference: string): Promise<TerraformInput | undefined> {
    const bytes = await this.store.get(tenant, reference, { maxBytes: this.options.maxWorkspaceBytes });
    if (!bytes) return undefined;
    const kind = detectArchive(bytes);
    if (!kind) throw new DomainError('validation_error', 'workspace_reference is neither a zip nor a tar.gz archive');
    return { kind, data: bytes };
  }

  /**
   * Streams a run's plan JSON from a file (the Terraform domain's plan spool) into the store without
   * reading it into memory; the reference is the run's `plan_reference`.
   */
  async storePlanFile(tenant: string, runId: string, path: string, bytes: number): Promise<string> {
    const stored = await this.store.putStream(tenant, `plans/${runId}.json`, createReadStream(path), { maxBytes: bytes });
    await this.keepPlansWithinQuota(tenant, stored.bytes, stored.reference);
    return stored.reference;
  }

  /** Stores a run's plan JSON; the reference is the run's `plan_reference`. */
  async storePlan(tenant: string, runId: string, plan: unknown): Promise<string> {
    return this.storePlanText(tenant, runId, JSON.stringify(plan));
  }

  /** Same, for plan JSON already serialized (the executor measures it first). */
  async storePlanText(tenant: string, runId: string, json: string): Promise<string> {
    const reference = await this.store.put(tenant, `plans/${runId}.json`, json);
    await this.keepPlansWithinQuota(tenant, Buffer.byteLength(json, 'utf8'), reference);
    return reference;
  }

  /**
   * Plans count against the tenant's quota like uploads, but a run's plan is never refused (the run
   * already happened): the tenant's oldest plans are deleted instead until the namespace is within the
   * quota again (never the plan just stored). Uploads are never evicted. Usage is tracked as an upper
   * estimate and measured (a walk of the namespace) only once the estimate passes the quota, so the walk
   * is not paid per run.
   */
  private async keepPlansWithinQuota(tenant: string, added: number, keep: string): Promise<void> {
    if (!this.quota) return;
    // First plan of this tenant since start: measure once (a predecessor's objects count too).
    const known = this.planUsageEstimate.get(tenant);
    const estimate = known === undefined ? await this.store.usage(tenant) : known + accountedBytes(added);
    this.planUsageEstimate.set(tenant, estimate);
    if (estimate <= this.quota.quota) return;
    let used = await this.store.usage(tenant);
    if (used > this.quota.quota) {
      const plans = (await this.store.list(tenant, 'plans/')).filter((plan) => plan.reference !== keep).sort((a, b) => a.modifiedMs - b.modifiedMs);
      for (const plan of plans) {
        if (used <= this.quota.quota) break;
        if (await this.store.delete(tenant, plan.reference)) used -= accountedBytes(plan.bytes);
      }
    }
    this.planUsageEstimate.set(tenant, used);
  }

  /** The stored plan JSON, parsed; undefined when unknown or another tenant's. */
  async fetchPlan(tenant: string, reference: string): Promise<unknown | undefined> {
    const bytes = await this.store.get(tenant, reference);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as unknown) : undefined;
  }
}

/** Uploads are `uploads/<hex>.<ext>` in the tenant's namespace (artifact:// or the store's s3:// form). */
export function isUploadReference(reference: string): boolean {
  const key = keyOfArtifactReference(reference);
  if (key !== undefined) return key.startsWith('uploads/');
  return /^s3:\/\/[^/]+\/(?:.*\/)?tenants\/[0-9a-f]{32}\/uploads\/[^/]+$/.test(reference);
}

// The artifact facade the API and the executor use: uploads, plans, and workspace_reference resolution,
// on top of whichever store the configuration selects (S3 when S3_BUCKET is set, else a local directory).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import { DomainError } from '../domains/errors.js';
import type { TerraformInput } from '../domains/terraform/types.js';
import { LocalArtifactStore } from './local.js';
import { S3ArtifactStore } from './s3.js';
import type { ArtifactStore } from './store.js';

export { LocalArtifactStore } from './local.js';
export { S3ArtifactStore } from './s3.js';
export { ARTIFACT_SCHEME, ArtifactTooLargeError, tenantNamespace, validateKey, type ArtifactStore, type GetOptions } from './store.js';

export type ArchiveKind = 'zip' | 'tar.gz';

/** Archive type from magic bytes, never from a name or a client-supplied type. */
export function detectArchive(bytes: Buffer): ArchiveKind | undefined {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05) && (bytes[3] === 0x04 || bytes[3] === 0x06)) {
    return 'zip';
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
  return undefined;
}

export function createArtifactStore(config: Readonly<Pick<Config, 'stateDir' | 'artifactsDir' | 's3'>>): ArtifactStore {
  if (config.s3.bucket) return S3ArtifactStore.fromConfig(config.s3);
  return new LocalArtifactStore(config.artifactsDir || join(config.stateDir, 'artifacts'));
}

export interface ArtifactsOptions {
  /** Largest archive a workspace_reference may name (read into memory for intake). */
  maxWorkspaceBytes: number;
}

export class Artifacts {
  constructor(
    readonly store: ArtifactStore,
    private readonly options: Readonly<ArtifactsOptions>,
  ) {}

  /** Stores an uploaded archive; the reference can be passed later as `workspace_reference`. */
  async storeUpload(tenant: string, data: Buffer, kind: ArchiveKind): Promise<string> {
    if (detectArchive(data) !== kind) throw new DomainError('validation_error', `upload is not a ${kind} archive`);
    return this.store.put(tenant, `uploads/${randomBytes(16).toString('hex')}.${kind === 'zip' ? 'zip' : 'tar.gz'}`, data);
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

  /** Stores a run's plan JSON; the reference is the run's `plan_reference`. */
  async storePlan(tenant: string, runId: string, plan: unknown): Promise<string> {
    return this.storePlanText(tenant, runId, JSON.stringify(plan));
  }

  /** Same, for plan JSON already serialized (the executor measures it first). */
  async storePlanText(tenant: string, runId: string, json: string): Promise<string> {
    return this.store.put(tenant, `plans/${runId}.json`, json);
  }

  /** The stored plan JSON, parsed; undefined when unknown or another tenant's. */
  async fetchPlan(tenant: string, reference: string): Promise<unknown | undefined> {
    const bytes = await this.store.get(tenant, reference);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as unknown) : undefined;
  }
}

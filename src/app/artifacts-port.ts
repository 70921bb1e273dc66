// Adapts the artifacts facade to the HTTP layer's port: a DomainError there (malformed reference, not an
// archive, too large) is the client's mistake and becomes validation_failed (400), not a 500; any other
// failure of the store (disk, S3 endpoint) is storage_unavailable (503), logged with its cause.
import type { Artifacts } from '../artifacts/index.js';
import { ApiError } from '../api/errors.js';
import type { ArtifactPort } from '../api/ports.js';
import { DomainError } from '../domains/errors.js';

export function artifactPort(artifacts: Artifacts): ArtifactPort {
  return {
    storeUpload: (tenant, data, kind) => clientErrors(() => artifacts.storeUpload(tenant, data, kind)),
    fetchWorkspace: (tenant, reference) => clientErrors(() => artifacts.fetchWorkspace(tenant, reference)),
    storePlan: (tenant, runId, plan) => clientErrors(() => artifacts.storePlan(tenant, runId, plan)),
    fetchPlan: (tenant, reference) => clientErrors(() => artifacts.fetchPlan(tenant, reference)),
  };
}

async function clientErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof DomainError) throw new ApiError('validation_failed', error.message);
    if (error instanceof ApiError) throw error;
    throw new ApiError('storage_unavailable', undefined, 30, error);
  }
}

// Turns a queued Terraform input into what the domain runner takes: a stored archive named by reference
// is read here, when the run starts, not when it is submitted (so queued runs hold references, and
// archive memory is bounded by WORKERS x the upload limit). The reference was checked at submit time; if
// the object is gone by now (deleted by its tenant, expired) the run fails as the tenant's own mistake.
import type { Artifacts } from '../artifacts/index.js';
import { DomainError, type ClassifiedError } from '../domains/errors.js';
import type { TerraformRequest } from '../domains/terraform/types.js';
import type { TerraformRunRequest } from './types.js';

export type Resolved = { ok: true; request: TerraformRequest } | { ok: false; error: ClassifiedError };

export async function resolveTerraformInput(artifacts: Partial<Pick<Artifacts, 'fetchWorkspace'>>, tenant: string, request: TerraformRunRequest): Promise<Resolved> {
  const input = request.input;
  if (input.kind !== 'reference') return { ok: true, request: { ...request, input } };
  if (!artifacts.fetchWorkspace) return { ok: false, error: { type: 'validation_error', message: 'stored workspaces are not enabled on this executor' } };
  try {
    const archive = await artifacts.fetchWorkspace(tenant, input.reference);
    if (!archive) return { ok: false, error: { type: 'validation_error', message: 'the workspace_reference no longer exists (deleted or expired before the run started)' } };
    return { ok: true, request: { ...request, input: archive } };
  } catch (error) {
    // Not an archive, or larger than the upload limit: the tenant's input, not an internal failure.
    if (error instanceof DomainError) return { ok: false, error: error.toJSON() };
    throw error;
  }
}

// Per-run archive copies (`scratch: true` references, from multipart archive runs) are the run's own:
// whichever way the run ends (ran, cancelled while queued, refused by the queue, drained at shutdown),
// its copy is released exactly once, by the one process that took the run out of the queue (the worker
// that claimed it, or the API node whose cancel removed it, or the submitter the queue refused).
import type { RunRequest } from './types.js';

export type ReleaseScratch = (tenant: string, reference: string) => Promise<void>;

/** The run's scratch reference, if its request names one. */
export function scratchOf(request: RunRequest): string | undefined {
  const input = request.kind === 'terraform' ? request.request.input : undefined;
  return input?.kind === 'reference' && input.scratch === true ? input.reference : undefined;
}

/** Releases it in the background; a failure is reported (the artifact TTL sweep is the backstop). */
export function releaseScratch(release: ReleaseScratch | undefined, tenant: string, reference: string | undefined, onError: (error: unknown) => void): void {
  if (reference === undefined || !release) return;
  release(tenant, reference).catch(onError);
}

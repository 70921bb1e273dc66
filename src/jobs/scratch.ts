// Per-run archive copies (`scratch: true` references, from multipart archive runs) are the run's own:
// whichever way the run ends (ran, cancelled while queued, refused by the queue, drained at shutdown),
// its copy is released exactly once.
import type { RunRequest } from './types.js';

export class ScratchRefs {
  private readonly held = new Map<string, { tenant: string; reference: string }>();

  constructor(
    private readonly release: ((tenant: string, reference: string) => Promise<void>) | undefined,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Remembers the run's scratch reference, if its request names one. */
  hold(id: string, tenant: string, request: RunRequest): void {
    const input = request.kind === 'terraform' ? request.request.input : undefined;
    if (input?.kind === 'reference' && input.scratch === true) this.held.set(id, { tenant, reference: input.reference });
  }

  /** Releases it (in the background; a failure is reported, the TTL sweep is the backstop). */
  releaseFor(id: string): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    this.release?.(held.tenant, held.reference).catch(this.onError);
  }
}

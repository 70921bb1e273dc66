// Per-tenant storage quota. Usage is read from the store itself (so it survives restarts and counts
// plans and run archives too); uploads in flight reserve their cap first, so concurrent uploads of one
// tenant cannot each see the same free space and overshoot it together.
import { DomainError } from '../domains/errors.js';

export class ArtifactQuotaError extends DomainError {
  constructor(readonly quotaBytes: number, readonly usedBytes: number) {
    super('validation_error', `the tenant's artifact quota of ${quotaBytes} bytes is used up (${usedBytes} bytes stored); delete uploads or wait for them to expire`);
  }
}

export class QuotaLedger {
  private readonly reserved = new Map<string, number>();

  constructor(private readonly quotaBytes: number) {
    if (!(quotaBytes > 0)) throw new RangeError('artifact quota must be positive');
  }

  /**
   * Reserves up to `wanted` bytes for one write of the tenant, given what is already stored; throws
   * ArtifactQuotaError when nothing is left. Returns the bytes granted and a release function.
   */
  reserve(tenant: string, usedBytes: number, wanted: number): { granted: number; release: () => void } {
    const held = this.reserved.get(tenant) ?? 0;
    const free = this.quotaBytes - usedBytes - held;
    if (free <= 0) throw new ArtifactQuotaError(this.quotaBytes, usedBytes + held);
    const granted = Math.min(wanted, free);
    this.reserved.set(tenant, held + granted);
    let released = false;
    return {
      granted,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.reserved.get(tenant) ?? granted) - granted;
        if (left > 0) this.reserved.set(tenant, left);
        else this.reserved.delete(tenant);
      },
    };
  }

  /** The error for a write that ran into the quota (its grant was smaller than the upload limit). */
  exceeded(tenant: string, usedBytes: number): ArtifactQuotaError {
    return new ArtifactQuotaError(this.quotaBytes, usedBytes + (this.reserved.get(tenant) ?? 0));
  }

  get quota(): number {
    return this.quotaBytes;
  }
}

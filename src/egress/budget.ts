// The per-run caps: how many calls a run may make and how many bytes may cross the proxy, both ways.
// A jail that loops on an allowed call (exfiltration by volume, or a bill) stops at the cap.
import type { EgressCaps } from './types.js';

export class Budget {
  private requests = 0;
  private bytes = 0;

  constructor(private readonly caps: EgressCaps) {}

  /** Counts one call; false once the run has made as many as its cap allows. */
  takeRequest(): boolean {
    if (this.requests >= this.caps.requests) return false;
    this.requests += 1;
    return true;
  }

  /** Bytes the run may still move. */
  bytesLeft(): number {
    return Math.max(0, this.caps.bytes - this.bytes);
  }

  /** Spends bytes; false when they went over the cap (the caller cuts the call off). */
  spend(bytes: number): boolean {
    this.bytes += bytes;
    return this.bytes <= this.caps.bytes;
  }

  get msPerCall(): number {
    return this.caps.ms;
  }
}

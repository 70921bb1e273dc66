// Per-tenant fixed-window rate limit (in-process; a Redis store replaces it for many hosts). The map
// is bounded: expired windows are dropped, so a flood of tenants cannot grow memory without limit.
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (what Retry-After carries). */
  resetSeconds: number;
}

/** The limiter behind the API; the in-process one below is the default, a Redis one serves many hosts. */
export interface RateLimit {
  hit(key: string): RateDecision | Promise<RateDecision>;
}

interface Window {
  startMs: number;
  count: number;
}

export class RateLimiter implements RateLimit {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(key: string): RateDecision {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.startMs >= this.windowMs) {
      if (this.windows.size >= 10_000) this.dropExpired(now);
      window = { startMs: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    const resetSeconds = Math.max(1, Math.ceil((window.startMs + this.windowMs - now) / 1000));
    return { allowed: window.count <= this.limit, limit: this.limit, remaining: Math.max(0, this.limit - window.count), resetSeconds };
  }

  private dropExpired(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.startMs >= this.windowMs) this.windows.delete(key);
    }
  }
}

// Failed logins are audited, but a stranger cannot turn the audit log into a disk filler or an
// event-loop brake (each audit record is a synchronous write): at most `perSecond` individual
// records a second; the rest are counted, and one `auth_failed_suppressed` record carries the count.
import type { AuditEvent, AuditLog } from './logging.js';

export class FailedAuthAudit {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly audit: AuditLog,
    private readonly perSecond = 20,
  ) {}

  record(event: AuditEvent): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) this.flush(now);
    if (this.inWindow < this.perSecond) {
      this.inWindow++;
      this.audit.record(event);
      return;
    }
    this.suppressed++;
    // The count is written when the window ends, even if no further failure arrives.
    this.timer ??= setTimeout(() => this.flush(Date.now()), 1000 - (now - this.windowStart));
    this.timer.unref();
  }

  /** Writes the pending count now (at shutdown). */
  close(): void {
    this.flush(Date.now());
  }

  private flush(now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed > 0) {
      this.audit.record({ event: 'auth_failed_suppressed', what: { count: this.suppressed, window_ms: now - this.windowStart }, status_code: 401 });
    }
    this.suppressed = 0;
    this.inWindow = 0;
    this.windowStart = now;
  }
}

/**
 * The jail could not be built (bubblewrap refused a mount, a cgroup could not be entered...). Distinct
 * from a run whose program failed: that is a completed RunResult, never an exception.
 */
export class JailSetupError extends Error {
  override readonly name = 'JailSetupError';
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

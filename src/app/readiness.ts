// Readiness of an API node of many hosts: Redis answers, and at least one worker is alive to run what the
// node accepts. Each probe is bounded: the shared connections wait through a Redis restart instead of
// failing (maxRetriesPerRequest: null), so without a deadline /ready would hang exactly when it matters.
import type { Readiness } from '../api/ports.js';

export interface SharedReadinessDeps {
  /** Redis PING on the shared connection. */
  ping(): Promise<unknown>;
  /** Workers with a live heartbeat (RedisWorkerRegistry.alive().length). */
  workersAlive(): Promise<number>;
  /** Longest a probe may take before Redis counts as down; default 1 s. */
  timeoutMs?: number;
}

export function sharedReadiness(deps: SharedReadinessDeps): () => Promise<Readiness> {
  const timeoutMs = deps.timeoutMs ?? 1_000;
  return async () => {
    const answered = await within(timeoutMs, async () => {
      await deps.ping();
      return deps.workersAlive();
    });
    if (!answered.ok) return { ready: false, redis: 'down', workers_alive: 0, reason: `redis did not answer within ${timeoutMs} ms: ${answered.reason}` };
    const alive = answered.value;
    if (alive === 0) return { ready: false, redis: 'up', workers_alive: 0, reason: 'no worker alive (start `confine worker` on a host that can run jails)' };
    return { ready: true, redis: 'up', workers_alive: alive };
  };
}

type Within<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The probe's answer, or why it has none (its error, or the deadline); the probe's late settlement is dropped on purpose. */
async function within<T>(timeoutMs: number, probe: () => Promise<T>): Promise<Within<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Within<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: 'timed out' }), timeoutMs);
  });
  const answer = probe().then(
    (value): Within<T> => ({ ok: true, value }),
    (error: unknown): Within<T> => ({ ok: false, reason: error instanceof Error ? error.message : String(error) }),
  );
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

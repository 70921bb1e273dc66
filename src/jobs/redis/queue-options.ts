// How a RedisJobQueue is named and configured (queue.ts): the shared queue every worker claims from, and
// one host queue per worker for the runs of sessions whose workspace lives on it.

export interface RedisQueueOptions {
  /** BullMQ queue name: the shared `confine-runs`, or hostQueueName(workerId) for one worker's sessions. */
  name: string;
  /** This process's worker id, recorded with each claim so a lost run names the worker that had it. */
  workerId: string;
  /** How long a claim's lock lives without renewal (RUN_LOCK_SECONDS); renewed every lockMs / 3. */
  lockMs: number;
  /** How often a claiming process runs BullMQ's stalled check; default lockMs / 2. */
  stalledIntervalMs?: number;
  /** How long a waiting claimer sleeps before looking again when no notice came; default 1000. */
  pollMs?: number;
  /** A claimed run whose claimer stopped renewing its lock (died): reported once, never redelivered. */
  onLost?: (runId: string, workerId: string) => void;
  /** Background failures (lock renewal, stalled check) that have no caller to throw to. */
  onError?: (error: Error) => void;
  /**
   * QUEUE_SECRET_KEY (32 bytes): every payload is sealed with AES-256-GCM before it enters Redis (seal.ts),
   * so credentials in a payload are never stored in clear. API nodes and workers must share it.
   */
  secretKey?: Buffer;
  /**
   * This process still runs `runId` but could not renew its lock (it paused past RUN_LOCK_SECONDS, or Redis
   * was away that long): the run is being reported lost, so the owner should kill its jail now rather
   * than let a run that is already "failed" go on having effects. The entry is no longer held (ack is a no-op).
   */
  onLockLost?: (runId: string) => void;
  /** A claimed entry whose payload does not open (another key, altered): taken out, never run, reported once. */
  onUndeliverable?: (runId: string, message: string) => void;
}

export const SHARED_QUEUE_NAME = 'confine-runs';

export function hostQueueName(workerId: string): string {
  return `confine-host-${workerId}`;
}

// `confine worker` composition (issue 12): JailHost + domain runners + executor + the worker pool on the
// Redis ports; no HTTP. Wired once the jobs layer's worker side lands.
import type { Config } from '../config/settings.js';

export interface WorkerNode {
  readonly id: string;
  readonly slots: number;
  /** Stop claiming, drain for SHUTDOWN_GRACE_SECONDS, cancel the rest, unregister, close the JailHost. */
  close(): Promise<void>;
}

export async function createWorkerNode(config: Readonly<Config>): Promise<WorkerNode> {
  throw new Error(`confine worker ${config.redis.workerId}: the worker side of the jobs layer is not wired yet`);
}

// `confine worker` (issue 12): jails only. Claims runs an API node queued in Redis (REDIS_URL), runs them,
// heartbeats its registration; SIGTERM/SIGINT stop claiming and drain for SHUTDOWN_GRACE_SECONDS.
import type { Command } from 'commander';
import { ConfigError } from '../../config/settings.js';
import { CgroupDelegationError } from '../../jail/cgroup/index.js';
import { StateDirError } from '../../jail/state-dir.js';
import { resolveRole } from '../../app/roles.js';
import { createWorkerNode } from '../../app/worker.js';
import { redactUrl } from '../../app/redis-url.js';
import { cliConfig, fail } from '../context.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run jails for the runs API nodes queue in Redis (needs REDIS_URL): claims runs, heartbeats, drains on SIGTERM')
    .action(async () => {
      const config = cliConfig();
      const node = await (async () => {
        resolveRole('worker', undefined, config);
        return createWorkerNode(config);
      })().catch((error: unknown) => {
        if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 2);
        // The host's setup, not a bug: the message says what to do; a stack would bury it.
        if (error instanceof StateDirError || error instanceof CgroupDelegationError) fail(error.message, 1);
        throw error;
      });
      // The harness and operators wait for this line: the worker is registered and claiming.
      process.stderr.write(`confine: worker ${node.id} ready (${node.slots} slots, ${redactUrl(config.redis.url)}, state ${config.stateDir}${node.metricsUrl ? `, metrics ${node.metricsUrl}/metrics` : ''})\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`confine: ${signal}: worker ${node.id} draining for up to ${config.shutdownGraceSeconds}s\n`);
        node.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`confine: worker shutdown failed: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

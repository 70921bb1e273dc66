// `confine serve`: configuration from the environment (a wrong value exits naming the variable), the
// whole service wired at the composition root, graceful shutdown on SIGTERM/SIGINT.
import type { Command } from 'commander';
import { ConfigError } from '../../config/settings.js';
import { CgroupDelegationError } from '../../jail/cgroup/index.js';
import { StateDirError } from '../../jail/state-dir.js';
import { configTable } from '../../app/config-table.js';
import { LISTEN_BACKLOG } from '../../api/app.js';
import { resolveRole, SERVE_ROLES } from '../../app/roles.js';
import { createService } from '../../app/service.js';
import { cliConfig, fail } from '../context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP service (API v1, seed-compatible routes, /docs, /metrics)')
    .option('--print-config-table', 'print the README configuration table (from the settings table) and exit')
    .option('--role <role>', `with REDIS_URL: ${SERVE_ROLES.join(' or ')} (api: HTTP only, no jails, any user; all: HTTP and jails). Default: one embedded process without REDIS_URL, all with it`)
    .action(async (options: { printConfigTable?: boolean; role?: string }) => {
      if (options.printConfigTable) {
        process.stdout.write(`${configTable()}\n`);
        return;
      }
      const config = cliConfig();
      const service = await (async () => createService(config, { role: resolveRole('serve', options.role, config) }))().catch((error: unknown) => {
        if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 2);
        // The host's setup, not a bug: the message says what to do; a stack would bury it.
        if (error instanceof StateDirError || error instanceof CgroupDelegationError) fail(error.message, 1);
        throw error;
      });
      const address = await service.app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
      const base = address.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1');
      if (service.devKey) {
        // No API_KEYS/JWT configured: never run open; hand the operator a key for this process.
        process.stderr.write(
          `\nconfine: no API_KEYS or JWT settings; generated a dev API key for this process (tenant "dev"):\n\n` +
            `  export CONFINE_KEY=${service.devKey}\n` +
            `  curl -s -X POST ${base}/api/v1/runs/commands?wait=true -H "X-API-Key: $CONFINE_KEY" \\\n` +
            `       -H 'Content-Type: application/json' -d '{"command":"echo hello"}'\n\n` +
            `  API docs: ${base}/docs   Set API_KEYS=tenant:key (or JWT_SECRET) for real use.\n\n`,
        );
      } else {
        process.stderr.write(`confine: listening on ${base} (docs: ${base}/docs)\n`);
      }
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`confine: ${signal}: draining for up to ${config.shutdownGraceSeconds}s\n`);
        service.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`confine: shutdown failed: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

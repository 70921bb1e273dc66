import type { Command } from 'commander';
import pc from 'picocolors';
import { runDoctor, type CheckStatus } from '../../doctor/checks.js';
import { cliConfig } from '../context.js';

const MARK: Record<CheckStatus, string> = { ok: pc.green('ok  '), warn: pc.yellow('warn'), fail: pc.red('FAIL') };

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check that this host can build jails and run Terraform (and, with REDIS_URL, the shared Redis)')
    .option('--json', 'print the report as JSON')
    .option('--role <role>', 'api: an API node of many hosts (no jails here; checks REDIS_URL only)')
    .action(async (options: { json?: boolean; role?: string }) => {
      if (options.role !== undefined && options.role !== 'api') {
        process.stderr.write(`confine doctor: --role takes api (workers and embedded hosts are checked without it), got "${options.role}"\n`);
        process.exitCode = 2;
        return;
      }
      const config = cliConfig();
      if (options.role === 'api' && config.redis.url === '') {
        process.stderr.write('confine doctor --role api: an API node of many hosts shares its state through Redis: set REDIS_URL\n');
        process.exitCode = 2;
        return;
      }
      const report = await runDoctor(config, { jails: options.role !== 'api' });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const width = Math.max(...report.checks.map((c) => c.name.length));
        for (const check of report.checks) {
          process.stdout.write(`${MARK[check.status]}  ${check.name.padEnd(width)}  ${check.detail}\n`);
        }
        // Name what failed: with REDIS_URL set a Redis failure fails the report while jails may build fine.
        const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
        const fine = options.role === 'api' ? 'this API node can reach what it shares' : 'jails can be built on this host';
        process.stdout.write(report.ok ? `${fine}\n` : `not ready: ${failed.join(', ')} failed\n`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}

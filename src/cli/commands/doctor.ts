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
    .action(async (options: { json?: boolean }) => {
      const report = await runDoctor(cliConfig());
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const width = Math.max(...report.checks.map((c) => c.name.length));
        for (const check of report.checks) {
          process.stdout.write(`${MARK[check.status]}  ${check.name.padEnd(width)}  ${check.detail}\n`);
        }
        // Name what failed: with REDIS_URL set a Redis failure fails the report while jails may build fine.
        const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
        process.stdout.write(report.ok ? 'jails can be built on this host\n' : `not ready: ${failed.join(', ')} failed\n`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}

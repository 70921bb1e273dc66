#!/usr/bin/env node
// The CLI builds the same request objects as the HTTP API and calls the same functions.
import { Command } from 'commander';
import { JailSetupError } from '../jail/errors.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExec } from './commands/exec.js';
import { registerPlan } from './commands/plan.js';
import { registerServe } from './commands/serve.js';
import { registerWorker } from './commands/worker.js';

const program = new Command()
  .name('confine')
  .description('Run untrusted Terraform and allowlisted shell commands in a fresh kernel jail per request')
  .showHelpAfterError();

registerDoctor(program);
registerExec(program);
registerPlan(program);
registerServe(program);
registerWorker(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // The host could not build a jail (a missing capability, read-only cgroups, no user namespaces): that is
  // the machine's setup, not a bug to show as a stack. Say what failed and where to look.
  if (!(error instanceof JailSetupError)) throw error;
  process.stderr.write(`confine: the jail could not be set up: ${error.message}${error.detail ? `: ${error.detail}` : ''}\n  run \`confine doctor\` to check this host\n`);
  process.exitCode = 1;
}

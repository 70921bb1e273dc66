#!/usr/bin/env node
// The CLI builds the same request objects as the HTTP API and calls the same functions.
import { Command } from 'commander';
import { registerDoctor } from './commands/doctor.js';
import { registerExec } from './commands/exec.js';
import { registerPlan } from './commands/plan.js';
import { registerServe } from './commands/serve.js';

const program = new Command()
  .name('confine')
  .description('Run untrusted Terraform and allowlisted shell commands in a fresh kernel jail per request')
  .showHelpAfterError();

registerDoctor(program);
registerExec(program);
registerPlan(program);
registerServe(program);

await program.parseAsync(process.argv);

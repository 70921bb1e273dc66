// `confine plan PATH`: the same TerraformRequest the HTTP API builds, from a directory, .zip or .tar.gz.
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { createTerraformRunner } from '../../domains/terraform/index.js';
import type { AwsCredentials, TerraformInput, TerraformMode } from '../../domains/terraform/types.js';
import type { EgressCall } from '../../egress/types.js';
import { cliConfig, fail, openJailHost } from '../context.js';
import { credentialsFromEnv, credentialsFromFile, CredentialsError, type LoadedCredentials } from '../credentials.js';
import { formatEgress } from '../format/egress.js';
import { formatProgress, formatTerraformResult } from '../format/terraform-result.js';

interface PlanOptions {
  mode: string;
  workingDir?: string;
  json?: boolean;
  out?: string;
  credentialsFile?: string;
  awsEnv?: boolean;
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('run terraform init + plan + show (or init + validate) on a directory, .zip or .tar.gz in fresh jails')
    .argument('<path>', 'a directory, a .zip or a .tar.gz holding the configuration')
    .option('--mode <mode>', 'validate or plan', 'plan')
    .option('--working-dir <sub>', 'directory inside the upload where terraform runs')
    .option('--json', 'print {status, error, findings, diagnostics, summary, steps, plan_path} as JSON (and egress, given credentials)')
    .option('--out <file>', 'write the plan JSON to this file')
    .option('--credentials-file <file>', 'JSON {aws_access_key_id, aws_secret_access_key, aws_session_token?}: the plan reads the cloud through the read-only egress proxy')
    .option('--aws-env', 'the same, from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of this environment')
    .action(async (path: string, options: PlanOptions) => {
      if (options.mode !== 'plan' && options.mode !== 'validate') fail(`--mode must be plan or validate, got "${options.mode}"`, 2);
      const mode: TerraformMode = options.mode;
      const credentials = await readCredentials(options);
      const config = cliConfig(egressEnv(process.env, credentials !== undefined));
      const input = await readInput(path);
      const runner = createTerraformRunner(await openJailHost(config), config);
      let planPath: string | null = null;
      const out = options.out;
      const result = await runner.run(
        {
          input,
          mode,
          ...(options.workingDir === undefined ? {} : { working_dir: options.workingDir }),
          ...(credentials === undefined ? {} : { credentials }),
        },
        {
          onProgress: (progress) => process.stderr.write(formatProgress(progress)),
          // The plan JSON as terraform printed it (redacted), copied from the spool: any size, never in memory.
          ...(out === undefined
            ? {}
            : {
                onPlan: async (plan) => {
                  planPath = resolve(out);
                  // Created 0600, not copied 0644 and narrowed after: the plan holds the values terraform
                  // marks sensitive, readable by any local user in between.
                  await pipeline(createReadStream(plan.path), createWriteStream(planPath, { mode: 0o600 }));
                  await chmod(planPath, 0o600); // a file that existed keeps its mode when opened
                },
              }),
        },
      );
      // The egress calls are shown only for a run given credentials: without them there is no egress at all.
      const egress: readonly EgressCall[] | undefined = credentials === undefined ? undefined : (result.egress ?? []);
      if (options.json) {
        const { status, error, findings, diagnostics, summary, steps } = result;
        process.stdout.write(`${JSON.stringify({ status, error, findings, diagnostics, summary, steps, plan_path: planPath, ...(egress ? { egress } : {}) }, null, 2)}\n`);
      } else {
        if (egress) process.stdout.write(formatEgress(egress));
        process.stdout.write(formatTerraformResult(result, planPath));
      }
      process.exitCode = result.error === null ? 0 : 1;
    });
}

async function readInput(path: string): Promise<TerraformInput> {
  const info = await lstat(path).catch(() => fail(`cannot read ${path}`, 2));
  if (info.isDirectory()) return { kind: 'directory', path };
  if (!info.isFile()) fail(`${path} is neither a directory nor a regular file`, 2);
  const data = await readFile(path);
  if (/\.zip$/i.test(path)) return { kind: 'zip', data };
  if (/\.(tar\.gz|tgz)$/i.test(path)) return { kind: 'tar.gz', data };
  return fail(`${path}: expected a directory, a .zip or a .tar.gz`, 2);
}

async function readCredentials(options: PlanOptions): Promise<AwsCredentials | undefined> {
  if (options.credentialsFile !== undefined && options.awsEnv) fail('give --credentials-file or --aws-env, not both', 2);
  let loaded: LoadedCredentials;
  try {
    if (options.credentialsFile !== undefined) loaded = await credentialsFromFile(options.credentialsFile);
    else if (options.awsEnv) loaded = credentialsFromEnv(process.env);
    else return undefined;
  } catch (error) {
    if (error instanceof CredentialsError) fail(error.message, 2);
    throw error;
  }
  for (const warning of loaded.warnings) process.stderr.write(`confine: warning: ${warning}\n`);
  return loaded.credentials;
}

/**
 * The person running the CLI is the operator: giving credentials turns egress on for this run, with the
 * default read-only policy and whatever TF_EGRESS_* narrows it to. An explicit TF_EGRESS (e.g. `off`)
 * is kept, and then a run with credentials fails fast exactly as it does through the API.
 */
export function egressEnv(env: NodeJS.ProcessEnv, hasCredentials: boolean): NodeJS.ProcessEnv {
  if (!hasCredentials || (env.TF_EGRESS !== undefined && env.TF_EGRESS !== '')) return env;
  return { ...env, TF_EGRESS: 'aws' };
}

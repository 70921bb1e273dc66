// Credentials (threat row 16 and the seeds' "never leaks credentials"): the AWS provider really uses the
// request's keys in the plan step, yet they appear in no output, no plan file and no file the run left
// in its workspace or /tmp, and the steps that do not need them never had them.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { describe, expect, it } from 'vitest';
import { Redactor, StreamRedactor } from '../../src/domains/terraform/redact.js';
import { PLAN_FILE_IN_JAIL } from '../../src/domains/terraform/profile.js';
import type { JailHost } from '../../src/jail/host.js';
import type { RunOptions } from '../../src/jail/run.js';
import type { JailSpec } from '../../src/jail/spec.js';
import type { Workspace, WorkspaceOptions } from '../../src/jail/workspace.js';
import { testHost } from '../support/jail.js';
import { errorText, stepNames } from './support/expect.js';
import { PLANTED, assertNoPlantedSecret, files, pipelineInSeededWorkspace, runTerraform } from './support/runner.js';

// No keys in the configuration: the provider must take them from the plan step's environment.
const CONFIG = `provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}
resource "aws_sqs_queue" "q" {
  name = "creds-test"
}
`;

async function unzipText(data: Buffer): Promise<string> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(data, { lazyEntries: true }, (e, z) => (e ? reject(e) : resolve(z))));
  const parts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => { parts.push(`${entry.fileName}\n${Buffer.concat(chunks).toString('latin1')}`); zip.readEntry(); });
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return parts.join('\n');
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path); // never follow the provider symlinks into the mirror
    if (info.isDirectory()) out.push(...(await allFiles(path)));
    else if (info.isFile()) out.push(path);
  }
  return out;
}

describe('credentials', () => {
  it('plan_step_credentials_never_reach_outputs_plan_file_or_workspace', async () => {
    const options = { mode: 'plan' as const, serviceLock: false, memoryMiB: 2048, workspaceMiB: 100, cpuCores: 2, totalMs: 120_000, credentials: PLANTED, redactor: new Redactor(Object.values(PLANTED)) };
    await pipelineInSeededWorkspace([{ path: 'main.tf', content: CONFIG }], options, async (output, workspace) => {
      expect(output.error).toBeNull();
      assertNoPlantedSecret(JSON.stringify(output));
      // The plan file is a zip: compressed content would hide a plain-text match, so read every entry.
      const planFile = join(workspace.tmpPath, PLAN_FILE_IN_JAIL.replace(/^\/tmp\//, ''));
      const planText = await unzipText(await readFile(planFile));
      expect(planText).toContain('aws_sqs_queue');
      assertNoPlantedSecret(planText);
      for (const file of [...(await allFiles(workspace.hostPath)), ...(await allFiles(workspace.tmpPath))]) {
        assertNoPlantedSecret((await readFile(file)).toString('latin1'));
      }
    });
  });

  it('without_request_credentials_the_provider_finds_none_provider_error', async () => {
    // The same configuration with no credentials in the request: nothing ambient (host env, ~/.aws,
    // instance metadata) stands in for them, so the plan step cannot configure the provider.
    const result = await runTerraform({ input: files({ 'main.tf': CONFIG }) }, {}, { credentials: false });
    expect(result.error?.type).toBe('provider_error');
    expect(stepNames(result)).toEqual(['init', 'plan']);
    expect(errorText(result)).toMatch(/No valid credential sources found/);
  });

  it('only_the_plan_jail_environment_holds_credentials', async () => {
    const host = await testHost();
    const envs: Record<string, Record<string, string>> = {};
    // The real host, with each step's JailSpec recorded on its way in.
    const recording = {
      run: (spec: JailSpec, ws?: Workspace, options?: RunOptions) => {
        envs[spec.argv[1]!] = spec.env;
        return host.run(spec, ws, options);
      },
      createWorkspace: (shape: WorkspaceOptions) => host.createWorkspace(shape), // the plan spool
    } as unknown as JailHost;
    const options = { host: recording, mode: 'plan' as const, serviceLock: false, memoryMiB: 512, workspaceMiB: 64, credentials: PLANTED, redactor: new Redactor(Object.values(PLANTED)) };
    const output = await pipelineInSeededWorkspace([{ path: 'main.tf', content: 'resource "terraform_data" "a" {}\n' }], options, (out) => out);
    expect(output.error).toBeNull();
    expect(Object.keys(envs).sort()).toEqual(['init', 'plan', 'show']);
    expect(envs.plan).toMatchObject({ AWS_ACCESS_KEY_ID: PLANTED.aws_access_key_id, AWS_SECRET_ACCESS_KEY: PLANTED.aws_secret_access_key, AWS_SESSION_TOKEN: PLANTED.aws_session_token });
    for (const step of ['init', 'show']) assertNoPlantedSecret(JSON.stringify(envs[step]));
  });

  it('stream_redactor_finds_secrets_split_across_chunks_and_json_escaped', () => {
    const secret = 'ab"c<d>&e\\f';
    const escaped = 'ab\\"c\\u003cd\\u003e\\u0026e\\\\f';
    const text = `{"a":"${escaped}","b":"x${secret}y","c":"${PLANTED.aws_secret_access_key}"}`;
    // Every split point: a secret cut across two chunks is still found.
    for (let cut = 0; cut <= text.length; cut++) {
      const redactor = new StreamRedactor([secret, PLANTED.aws_secret_access_key]);
      const bytes = Buffer.from(text);
      const out = Buffer.concat([redactor.push(bytes.subarray(0, cut)), redactor.push(bytes.subarray(cut)), redactor.end()]).toString();
      expect(out).toBe('{"a":"[REDACTED]","b":"x[REDACTED]y","c":"[REDACTED]"}');
    }
  });

  it('stream_redactor_replaces_a_secret_containing_another_whole_at_every_split', () => {
    // A shorter secret inside a longer one, held back in one chunk's tail, was replaced first and left the
    // rest of the longer secret in the output ("ab[REDACTED]ef").
    const text = 'x abcdef y cd z';
    for (let cut = 0; cut <= text.length; cut++) {
      const redactor = new StreamRedactor(['abcdef', 'cd']);
      const bytes = Buffer.from(text);
      const out = Buffer.concat([redactor.push(bytes.subarray(0, cut)), redactor.push(bytes.subarray(cut)), redactor.end()]).toString();
      expect(out).toBe('x [REDACTED] y [REDACTED] z');
    }
  });

  it('redactor_replaces_every_occurrence_in_text_and_nested_json', () => {
    const redactor = new Redactor([PLANTED.aws_secret_access_key, PLANTED.aws_access_key_id]);
    const text = `a ${PLANTED.aws_secret_access_key} b ${PLANTED.aws_secret_access_key}${PLANTED.aws_access_key_id}`;
    expect(redactor.text(text)).toBe('a [REDACTED] b [REDACTED][REDACTED]');
    const deep = redactor.deep({ [PLANTED.aws_access_key_id]: [{ v: `x${PLANTED.aws_secret_access_key}` }], n: 1 });
    expect(deep).toEqual({ '[REDACTED]': [{ v: 'x[REDACTED]' }], n: 1 });
  });
});

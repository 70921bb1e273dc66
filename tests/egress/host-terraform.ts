// Real terraform with the real AWS provider from the mirror, on the host (no jail), pointed at an AWS
// endpoint: either the fake directly with the real credentials (the reference), or the proxy (through
// the TCP shim) with placeholder keys, as a jail would run it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HostPlan {
  ok: boolean;
  plan?: unknown;
  output: string;
}

export interface AwsEnv {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export async function hostPlan(mainTf: string, aws: AwsEnv, mirror = '/opt/tf-plugins', terraform = 'terraform'): Promise<HostPlan> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-egress-tf-'));
  try {
    const work = join(dir, 'work');
    await run('mkdir', [work]);
    await writeFile(join(work, 'main.tf'), mainTf);
    await writeFile(join(dir, 'cli.tfrc'), `provider_installation {\n  filesystem_mirror {\n    path    = "${mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n`);
    const env: Record<string, string> = {
      HOME: dir, PATH: '/usr/bin:/bin:/usr/local/bin', TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), TF_DATA_DIR: join(dir, 'data'),
      CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0',
      AWS_ENDPOINT_URL: aws.endpoint, AWS_ACCESS_KEY_ID: aws.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true', AWS_S3_USE_PATH_STYLE: 'true', AWS_MAX_ATTEMPTS: '1',
      ...(aws.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: aws.sessionToken }),
    };
    const options = { cwd: work, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 };
    await run(terraform, ['init', '-backend=false', '-input=false', '-no-color'], options);
    try {
      await run(terraform, ['plan', '-input=false', '-no-color', '-lock=false', `-out=${join(dir, 'plan')}`], options);
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
    }
    const { stdout } = await run(terraform, ['show', '-json', join(dir, 'plan')], options);
    return { ok: true, plan: JSON.parse(stdout) as unknown, output: '' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

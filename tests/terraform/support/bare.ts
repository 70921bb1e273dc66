// Bare terraform on the host (no jail) with the same CLI configuration and flags as the pipeline: the
// reference the jailed plan JSON is compared with, and the baseline of the benchmark.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function barePlanJson(configDir: string, mirror: string, terraform: string): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'confine-bare-'));
  try {
    const work = join(dir, 'work');
    await cp(configDir, work, { recursive: true });
    await writeFile(join(dir, 'cli.tfrc'), `provider_installation {\n  filesystem_mirror {\n    path    = "${mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n`);
    const env = {
      HOME: dir, PATH: '/usr/bin:/bin', TF_CLI_CONFIG_FILE: join(dir, 'cli.tfrc'), TF_DATA_DIR: join(dir, 'data'),
      CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0',
    };
    const options = { cwd: work, env, maxBuffer: 256 * 1024 * 1024 };
    await run(terraform, ['init', '-backend=false', '-input=false', '-no-color'], options);
    await run(terraform, ['plan', '-input=false', '-no-color', '-lock=false', `-out=${join(dir, 'plan')}`], options);
    const { stdout } = await run(terraform, ['show', '-json', join(dir, 'plan')], options);
    return JSON.parse(stdout) as unknown;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Plan JSON minus what differs between any two runs of the same plan, jailed or not: the timestamp, and
 * the order of `relevant_attributes` (terraform builds it from a Go map; two bare runs differ too).
 */
export function withoutTimestamps(plan: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(plan)) as Record<string, unknown>;
  delete copy.timestamp;
  if (Array.isArray(copy.relevant_attributes)) {
    copy.relevant_attributes = [...copy.relevant_attributes].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return copy;
}

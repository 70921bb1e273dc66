// Roles at start-up (issue 12), through the real binary: a combination that cannot work across hosts is
// refused before anything starts, exit 2, with a message naming what to set.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOnce } from './cluster.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

async function start(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', API_KEYS: 'a:roles-key-0123456789abcdef', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  // A refusal exits at once; a started service would hang here, so bound it (and kill it) instead.
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

// Nothing listens here: every refusal must come before any connection is tried.
const UNUSED_REDIS = 'redis://127.0.0.1:1';

describe('roles at start-up', () => {
  beforeAll(() => buildOnce(), 300_000);

  it('api_role_without_redis_url_is_refused_naming_it', async () => {
    const r = await start(['serve', '--role', 'api'], {});
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/REDIS_URL/);
    expect(r.output).toMatch(/--role api/);
  });

  it('all_role_without_redis_url_is_refused_naming_it', async () => {
    const r = await start(['serve', '--role', 'all'], {});
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/REDIS_URL/);
  });

  it('worker_without_redis_url_is_refused_naming_it', async () => {
    const r = await start(['worker'], {});
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/REDIS_URL/);
    expect(r.output).toMatch(/confine worker/);
  });

  it('unknown_role_is_refused_naming_the_roles', async () => {
    const r = await start(['serve', '--role', 'worker'], { REDIS_URL: UNUSED_REDIS });
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/--role.*api, all/);
    expect(r.output).toMatch(/confine worker/);
  });

  it('api_or_worker_with_a_private_artifact_dir_is_refused_naming_what_to_set', async () => {
    for (const args of [['serve', '--role', 'api'], ['worker']]) {
      const r = await start(args, { REDIS_URL: UNUSED_REDIS });
      expect(r.code, r.output).toBe(2);
      expect(r.output).toMatch(/ARTIFACT_DIR_SHARED/);
      expect(r.output).toMatch(/S3_BUCKET/);
    }
  });

  it('redis_with_aws_egress_and_no_queue_key_is_refused_naming_the_key', async () => {
    const r = await start(['serve', '--role', 'api'], { REDIS_URL: UNUSED_REDIS, ARTIFACT_DIR_SHARED: 'true', TF_EGRESS: 'aws' });
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/QUEUE_SECRET_KEY/);
  });

  it('redis_password_never_appears_in_a_refusal', async () => {
    const r = await start(['worker'], { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' });
    expect(r.code, r.output).toBe(2);
    expect(r.output).not.toContain('hunter2-secret');
  });
});

// Roles at start-up (issue 12), through the real binary: a combination that cannot work across hosts is
// refused before anything starts, exit 2, with a message naming what to set.
import { spawn } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, until } from '../api/support.js';
import { startRedis } from '../support/redis.js';
import { buildOnce, DIST_QUEUE_KEY } from './cluster.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

async function start(args: string[], env: Record<string, string>, raw = false): Promise<{ code: number | null; output: string }> {
  const [command, ...rest] = raw ? args : [process.execPath, MAIN, ...args];
  const child = spawn(command!, rest, {
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

  it('redis_role_without_a_queue_key_is_refused_naming_it', async () => {
    for (const args of [['serve', '--role', 'api'], ['serve', '--role', 'all'], ['worker']]) {
      const r = await start(args, { REDIS_URL: UNUSED_REDIS, ARTIFACTS_DIR_SHARED: 'true' });
      expect(r.code, r.output).toBe(2);
      expect(r.output).toMatch(/QUEUE_SECRET_KEY/);
      expect(r.output).toMatch(/openssl rand -base64 32/);
    }
  });

  it('api_or_worker_with_a_private_artifact_dir_is_refused_naming_what_to_set', async () => {
    for (const args of [['serve', '--role', 'api'], ['worker']]) {
      const r = await start(args, { REDIS_URL: UNUSED_REDIS, QUEUE_SECRET_KEY: DIST_QUEUE_KEY });
      expect(r.code, r.output).toBe(2);
      expect(r.output).toMatch(/ARTIFACTS_DIR_SHARED/);
      expect(r.output).toMatch(/S3_BUCKET/);
    }
  });

  it('redis_with_aws_egress_and_no_queue_key_is_refused_naming_the_key', async () => {
    const r = await start(['serve', '--role', 'api'], { REDIS_URL: UNUSED_REDIS, ARTIFACTS_DIR_SHARED: 'true', TF_EGRESS: 'aws' });
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/QUEUE_SECRET_KEY/);
  });

  it('redis_password_never_appears_in_a_refusal', async () => {
    const r = await start(['worker'], { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' });
    expect(r.code, r.output).toBe(2);
    expect(r.output).not.toContain('hunter2-secret');
  });

  it('worker_with_an_unreachable_state_dir_says_what_to_do_without_a_stack', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'confine-private-')); // mode 0700: jails' uids cannot search it
    try {
      const r = await start(['worker'], { REDIS_URL: UNUSED_REDIS, QUEUE_SECRET_KEY: DIST_QUEUE_KEY, ARTIFACTS_DIR_SHARED: 'true', CONFINE_STATE_DIR: join(dir, 'state') });
      expect(r.code, r.output).toBe(1);
      expect(r.output).toMatch(/not reachable by the jails' unprivileged uids/);
      expect(r.output).toMatch(/chmod o\+x/);
      expect(r.output).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unprivileged_api_role_with_local_artifacts_is_refused_naming_s3', async () => {
    const r = await start(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, MAIN, 'serve', '--role', 'api'], { REDIS_URL: UNUSED_REDIS, QUEUE_SECRET_KEY: DIST_QUEUE_KEY, ARTIFACTS_DIR_SHARED: 'true' }, true);
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/S3_BUCKET/);
    expect(r.output).toMatch(/uid 65534/);
  });

  it('api_role_runs_as_an_unprivileged_user_without_a_jail_agent', async () => {
    const redis = await startRedis();
    const dir = await mkdtemp(join(tmpdir(), 'confine-api-role-'));
    await chown(dir, 65534, 65534);
    // Artifacts in S3 (s3rver): an unprivileged API node reads what root workers write only through it.
    const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3'), configureBuckets: [{ name: 'confine-roles' }] });
    const s3Port = ((await s3.run()) as AddressInfo).port;
    const key = 'roles-key-0123456789abcdef';
    // nobody:nogroup, no supplementary groups: an API node needs no root, no capability, no state dir of its own.
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, MAIN, 'serve', '--role', 'api'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, API_KEYS: `a:${key}`, LOG_LEVEL: 'warn', PORT: '0', REDIS_URL: redis.url, QUEUE_SECRET_KEY: DIST_QUEUE_KEY, S3_BUCKET: 'confine-roles', S3_ENDPOINT: `http://127.0.0.1:${s3Port}`, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', CONFINE_STATE_DIR: join(dir, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const base = await until(async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], 30_000).catch(() => {
        throw new Error(`the api role did not listen as nobody:\n${output}`);
      });
      const health = await call(base, 'GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body['cgroup']).toMatch(/none/);
      // Ready needs a worker: none is running, and the probe says so instead of accepting runs for nobody.
      const ready = await call(base, 'GET', '/ready');
      expect(ready.status).toBe(503);
      expect(JSON.stringify(ready.body)).toMatch(/no worker alive/);
      // The node process runs as nobody and started no jail agent (no child process at all).
      // setpriv execs node: the child's pid is the service itself.
      const nodePid = child.pid!;
      const status = await readFile(`/proc/${nodePid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1, 3)).toEqual(['65534', '65534']);
      expect(/^CapEff:\s+(\w+)/m.exec(status)?.[1]).toBe('0000000000000000');
      const children = (await readFile(`/proc/${nodePid}/task/${nodePid}/children`, 'utf8')).trim();
      expect(children).toBe('');
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      await redis.stop();
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});


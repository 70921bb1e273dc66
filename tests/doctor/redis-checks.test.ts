// `confine doctor` with REDIS_URL: the checks ask a real redis-server and give exact advice: AOF and
// appendfsync, maxmemory-policy, access (password / TLS off loopback), the workers alive; an unreachable
// Redis is a prompt FAIL naming REDIS_URL without its password.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/settings.js';
import { redactUrl } from '../../src/app/redis-url.js';
import { runDoctor } from '../../src/doctor/checks.js';
import { accessCheck, redisChecks } from '../../src/doctor/redis.js';
import { openRedis } from '../../src/jobs/redis/connection.js';
import { RedisWorkerRegistry } from '../../src/jobs/redis/workers.js';
import { startRedis, type TestRedis } from '../support/redis.js';

const run = promisify(execFile);
let durable: TestRedis;
let plain: TestRedis;

beforeAll(async () => {
  [durable, plain] = await Promise.all([startRedis({ aof: true }), startRedis()]);
});

afterAll(async () => {
  await Promise.all([durable?.stop(), plain?.stop()]);
});

const config = (url: string, prefix = 'doctor'): ReturnType<typeof loadConfig> => loadConfig({ REDIS_URL: url, REDIS_KEY_PREFIX: prefix });

function byName(checks: { name: string; status: string; detail: string }[]): Record<string, { status: string; detail: string }> {
  return Object.fromEntries(checks.map((c) => [c.name, { status: c.status, detail: c.detail }]));
}

describe('doctor: redis', () => {
  it('durableRedisWithAWorker_allChecksOk_namingVersionAndWorker', async () => {
    const admin = new Redis(durable.url);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    admin.disconnect();
    const worker = openRedis(durable.url, 'doctor');
    const registry = new RedisWorkerRegistry(worker, { heartbeatMs: 5_000 });
    await registry.register({ id: 'doc-worker', slots: 2, host: 'host-a' }, () => 1);
    try {
      const checks = byName(await redisChecks(config(durable.url)));
      expect(checks['redis']).toMatchObject({ status: 'ok' });
      expect(checks['redis']!.detail).toMatch(/Redis \d+\.\d+\.\d+/);
      expect(checks['redis persistence']).toEqual({ status: 'ok', detail: 'AOF on, appendfsync always' });
      expect(checks['redis eviction']!.status).toBe('ok');
      expect(checks['redis access']!.status).toBe('ok');
      expect(checks['workers']).toEqual({ status: 'ok', detail: '1 alive: doc-worker on host-a (1/2 busy)' });
    } finally {
      await registry.unregister();
      await worker.close();
    }
  });

  it('redisWithoutAofThatEvicts_andNoWorker_warnsWithTheSettingsToChange', async () => {
    const admin = new Redis(plain.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    admin.disconnect();
    const checks = byName(await redisChecks(config(plain.url, 'empty')));
    expect(checks['redis']!.status).toBe('ok');
    expect(checks['redis persistence']!.status).toBe('warn');
    expect(checks['redis persistence']!.detail).toContain('AOF is off');
    expect(checks['redis persistence']!.detail).toContain('`appendonly yes` and `appendfsync always`');
    expect(checks['redis eviction']!.status).toBe('warn');
    expect(checks['redis eviction']!.detail).toContain('maxmemory-policy allkeys-lru');
    expect(checks['redis eviction']!.detail).toContain('`maxmemory-policy noeviction`');
    expect(checks['workers']!.status).toBe('warn');
    expect(checks['workers']!.detail).toContain('none alive under prefix "empty"');
  });

  it('unreachableRedis_failsPromptly_namingTheUrlWithoutItsPassword', async () => {
    const gone = await startRedis();
    const url = `redis://confine:s3cret-pass@127.0.0.1:${gone.port}`;
    await gone.stop();
    const started = Date.now();
    const checks = await redisChecks(config(url));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: 'redis', status: 'fail' });
    expect(checks[0]!.detail).toContain(`127.0.0.1:${gone.port}`);
    expect(checks[0]!.detail).toContain('fix REDIS_URL');
    expect(checks[0]!.detail).not.toContain('s3cret-pass');
    expect(redactUrl(url)).toBe(`redis://confine:***@127.0.0.1:${gone.port}`);
  });

  it('accessCheck_offLoopback_wantsAPasswordAndTls', () => {
    // Judged from REDIS_URL alone: whoever reaches Redis can read run records and queue runs.
    const [, noPassword, noPasswordDetail] = accessCheck('redis://10.0.0.5:6379');
    expect(noPassword).toBe('warn');
    expect(noPasswordDetail).toContain('set requirepass');
    const [, clear, clearDetail] = accessCheck('redis://:pw@10.0.0.5:6379');
    expect(clear).toBe('warn');
    expect(clearDetail).toContain('rediss://');
    expect(accessCheck('rediss://:pw@redis.internal:6380').slice(1)).toEqual(['ok', 'password set; TLS']);
    expect(accessCheck('redis://127.0.0.1:6379').slice(1)).toEqual(['ok', 'no password (loopback only); plain TCP']);
  });


  it('apiNodeDoctor_checksOnlyTheSharedRedis_andPassesWithoutJails', async () => {
    const report = await runDoctor(config(durable.url, 'api-node'), { jails: false });
    expect(report.checks.map((c) => c.name)).toEqual(['redis', 'redis persistence', 'redis eviction', 'redis access', 'workers']);
    // No worker under this prefix is a warning, not a failure: the API node itself is fine.
    expect(report.ok).toBe(true);
    expect(report.seccomp).toEqual([]);
  });

  it('doctorCli_roleApi_printsTheRedisChecksAsJson_andExitsZero', async () => {
    // The real binary as an operator runs it on an API node.
    const { stdout } = await run('bin/confine', ['doctor', '--role', 'api', '--json'], { env: { ...process.env, REDIS_URL: durable.url, REDIS_KEY_PREFIX: 'cli-doctor' }, timeout: 170_000 });
    const report = JSON.parse(stdout) as { ok: boolean; checks: { name: string; status: string; detail: string }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['redis', 'redis persistence', 'redis eviction', 'redis access', 'workers']);
    expect(report.checks.find((c) => c.name === 'workers')?.detail).toContain('none alive under prefix "cli-doctor"');
  }, 180_000);

  it('doctorCli_roleApiWithoutRedisUrl_isRefusedNamingIt', async () => {
    const env = { ...process.env };
    delete env['REDIS_URL'];
    const failed = await run('bin/confine', ['doctor', '--role', 'api'], { env, timeout: 170_000 }).then(() => undefined, (error: { code?: number; stderr?: string }) => error);
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('set REDIS_URL');
  }, 180_000);
});

// The configuration table fails fast, naming the variable; S3 read grants cannot reach tenant namespaces.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/settings.js';

function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('S3_READ_GRANTS', () => {
  it('grants_parse_per_tenant', () => {
    const config = loadConfig({ S3_READ_GRANTS: 'orchestrator:uploads/, orchestrator:inbox/jobs/,ci:ci-uploads/' });
    expect(config.s3.readGrants).toEqual({ orchestrator: ['uploads/', 'inbox/jobs/'], ci: ['ci-uploads/'] });
  });

  it.each([
    ['no_prefix', 'orchestrator'],
    ['absolute_prefix', 'orchestrator:/uploads/'],
    ['dotdot_prefix', 'orchestrator:uploads/../'],
    ['prefix_without_trailing_slash', 'orchestrator:uploads'],
    ['whole_bucket', 'orchestrator:/'],
  ])('%s_is_rejected_naming_the_variable', (_name, value) => {
    expect(errorOf({ S3_READ_GRANTS: value }).variable).toBe('S3_READ_GRANTS');
  });

  it('grant_into_tenant_namespaces_is_rejected', () => {
    expect(errorOf({ S3_READ_GRANTS: 'a:tenants/' }).message).toMatch(/tenant namespaces/);
    expect(errorOf({ S3_READ_GRANTS: 'a:tenants/abc/' }).message).toMatch(/tenant namespaces/);
    expect(errorOf({ S3_PREFIX: 'confine', S3_READ_GRANTS: 'a:confine/' }).message).toMatch(/tenant namespaces/);
    expect(loadConfig({ S3_PREFIX: 'confine', S3_READ_GRANTS: 'a:uploads/' }).s3.readGrants).toEqual({ a: ['uploads/'] });
  });
});

describe('many hosts settings (issue 12)', () => {
  const KEY = Buffer.alloc(32, 7).toString('base64');

  it('unset_redis_url_means_embedded_with_a_default_worker_id', () => {
    const config = loadConfig({});
    expect(config.redis.url).toBe('');
    expect(config.redis.keyPrefix).toBe('confine');
    expect(config.redis.workerId).toMatch(new RegExp(`-${process.pid}$`));
    expect(config.redis.artifactDirShared).toBe(false);
  });

  it('redis_settings_parse', () => {
    const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390/0', REDIS_KEY_PREFIX: 'ci-a', WORKER_ID: 'w1', QUEUE_SECRET_KEY: KEY, WORKER_HEARTBEAT_SECONDS: '0.5', RUN_LOCK_SECONDS: '4', ARTIFACTS_DIR_SHARED: 'true' });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6390/0', keyPrefix: 'ci-a', workerId: 'w1', queueSecretKey: KEY, heartbeatMs: 500, runLockMs: 4000, artifactDirShared: true, workerMetricsPort: 0 });
  });

  it.each([
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['REDIS_URL', { REDIS_URL: 'not a url' }],
    ['REDIS_KEY_PREFIX', { REDIS_KEY_PREFIX: 'a:b' }],
    ['WORKER_ID', { WORKER_ID: 'w 1' }],
    ['QUEUE_SECRET_KEY', { QUEUE_SECRET_KEY: Buffer.alloc(16).toString('base64') }],
    ['WORKER_HEARTBEAT_SECONDS', { WORKER_HEARTBEAT_SECONDS: '0' }],
    ['WORKER_METRICS_PORT', { WORKER_METRICS_PORT: '70000' }],
  ])('wrong_%s_is_rejected_naming_the_variable', (variable, env) => {
    expect(errorOf(env).variable).toBe(variable);
  });

  it('secret_key_error_never_echoes_the_value', () => {
    const secret = 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
    expect(errorOf({ QUEUE_SECRET_KEY: secret }).message).not.toContain(secret);
  });

  it('redis_with_aws_egress_and_no_queue_key_is_refused_naming_the_key', () => {
    const error = errorOf({ REDIS_URL: 'redis://127.0.0.1:6390', TF_EGRESS: 'aws' });
    expect(error.variable).toBe('QUEUE_SECRET_KEY');
    expect(error.message).toMatch(/TF_EGRESS=aws/);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6390', TF_EGRESS: 'aws', QUEUE_SECRET_KEY: KEY }).redis.queueSecretKey).toBe(KEY);
    expect(loadConfig({ TF_EGRESS: 'aws' }).redis.url).toBe(''); // embedded: nothing is queued outside the process
  });
});

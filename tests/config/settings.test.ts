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

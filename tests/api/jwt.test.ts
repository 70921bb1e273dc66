// Bearer JWTs must expire, within JWT_MAX_AGE_SECONDS, and name tenants in their own namespace: a
// token whose `sub` is an API-key tenant's name is another tenant (`jwt:<sub>`) unless the operator
// maps the two on purpose (JWT_TENANT_PREFIX='').
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuth } from '../../src/app/auth.js';
import { ConfigError, loadConfig } from '../../src/config/settings.js';
import { call, KEY_A, startService, type Running } from './support.js';

const SECRET = 'jwt-namespace-secret-0123456789abcdefghij';
const MAX_AGE_SECONDS = 3600;
let svc: Running;
let shared: Running;

const now = (): number => Math.floor(Date.now() / 1000);
function sign(claims: Record<string, unknown>, times: { iat?: number; exp?: number } = {}): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (times.iat !== undefined) jwt = jwt.setIssuedAt(times.iat);
  if (times.exp !== undefined) jwt = jwt.setExpirationTime(times.exp);
  return jwt.sign(new TextEncoder().encode(SECRET));
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  svc = await startService({ JWT_SECRET: SECRET, JWT_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS) });
  // The operator maps JWT tenants onto API-key tenants on purpose.
  shared = await startService({ JWT_SECRET: SECRET, JWT_TENANT_PREFIX: '' });
});

afterAll(async () => {
  await svc?.close();
  await shared?.close();
});

describe('jwt lifetime', () => {
  it('jwt_without_exp_is_refused_with_401', async () => {
    const r = await call(svc.base, 'GET', '/status', { headers: bearer(await sign({ sub: 'forever' }, { iat: now() })) });
    expect(r.status).toBe(401);
    expect(r.body['error']['code']).toBe('unauthorized');
    // The same token with an exp is accepted: only the missing exp was wrong.
    expect((await call(svc.base, 'GET', '/status', { headers: bearer(await sign({ sub: 'forever' }, { iat: now(), exp: now() + 300 })) })).status).toBe(200);
  });

  it('jwt_beyond_the_maximum_age_is_refused_with_401', async () => {
    const tooLong = await sign({ sub: 'long' }, { exp: now() + MAX_AGE_SECONDS + 600 });
    const issuedLongAgo = await sign({ sub: 'old' }, { iat: now() - MAX_AGE_SECONDS - 600, exp: now() + 60 });
    for (const token of [tooLong, issuedLongAgo]) {
      const r = await call(svc.base, 'GET', '/status', { headers: bearer(token) });
      expect(r.status).toBe(401);
      expect(r.body['error']['code']).toBe('unauthorized');
    }
    expect((await call(svc.base, 'GET', '/status', { headers: bearer(await sign({ sub: 'ok' }, { exp: now() + MAX_AGE_SECONDS - 60 })) })).status).toBe(200);
  });
});

describe('jwt tenant namespace', () => {
  it('jwt_sub_equal_to_an_api_key_tenant_cannot_read_its_runs', async () => {
    const run = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo alpha-only' } });
    expect(run.status).toBe(200);
    const id = String(run.body['id']);
    // API-key tenant "alpha" and a token naming "alpha" (by sub or by the tenant claim) are different tenants.
    for (const claims of [{ sub: 'alpha' }, { tenant: 'alpha' }]) {
      const token = await sign(claims, { iat: now(), exp: now() + 300 });
      const r = await call(svc.base, 'GET', `/api/v1/runs/${id}`, { headers: bearer(token) });
      expect(r.status).toBe(404);
      expect(r.body['error']['code']).toBe('run_not_found');
    }
    // The other direction too: the token's own run is not alpha's.
    const token = await sign({ sub: 'alpha' }, { iat: now(), exp: now() + 300 });
    const own = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { headers: bearer(token), json: { command: 'echo jwt-alpha' } });
    expect(own.status).toBe(200);
    expect((await call(svc.base, 'GET', `/api/v1/runs/${String(own.body['id'])}`, { key: KEY_A })).status).toBe(404);
    expect((await call(svc.base, 'GET', `/api/v1/runs/${String(own.body['id'])}`, { headers: bearer(token) })).status).toBe(200);
  });

  it('empty_prefix_maps_jwt_tenants_onto_api_key_tenants_on_purpose', async () => {
    const run = await call(shared.base, 'POST', '/api/v1/runs/commands?wait=true', { key: KEY_A, json: { command: 'echo mapped' } });
    expect(run.status).toBe(200);
    const token = await sign({ sub: 'alpha' }, { iat: now(), exp: now() + 300 });
    expect((await call(shared.base, 'GET', `/api/v1/runs/${String(run.body['id'])}`, { headers: bearer(token) })).status).toBe(200);
  });

  it('prefix_that_could_equal_an_api_key_tenant_stops_start', async () => {
    // "jwt-" + "x" is a valid API-key tenant name: only a prefix ending in ':' (or none) is allowed.
    const config = loadConfig({ API_KEYS: `alpha:${KEY_A}`, JWT_SECRET: SECRET, JWT_TENANT_PREFIX: 'jwt-' });
    const error = await buildAuth(config).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('JWT_TENANT_PREFIX');
  });
});

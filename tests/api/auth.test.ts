// Authentication: API keys (hashed, constant-time), JWT HS256, RS256 by PEM public key and by JWKS URL;
// forged, expired and algorithm-swapped tokens are refused. Per-tenant rate limit with Retry-After.
import { createServer, type Server } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, KEY_A, KEY_B, startService, type Running } from './support.js';

const SECRET = 'hs256-test-secret-0123456789abcdefghijkl';
let svc: Running;
let jwksSvc: Running;
let jwksServer: Server;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let jwksKey: Awaited<ReturnType<typeof generateKeyPair>>;

async function hs256(claims: Record<string, unknown>, secret = SECRET, expiresIn = '5m'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));
}

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  jwksKey = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(jwksKey.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const port = (jwksServer.address() as { port: number }).port;
  svc = await startService({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: await exportSPKI(rsa.publicKey), RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_WINDOW_SECONDS: '60' });
  jwksSvc = await startService({ API_KEYS: '', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` });
});

afterAll(async () => {
  await svc?.close();
  await jwksSvc?.close();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('authentication', () => {
  it('hs256_jwt_names_the_tenant', async () => {
    const token = await hs256({ tenant: 'jwt-tenant' });
    const run = await call(svc.base, 'POST', '/api/v1/runs/commands?wait=true', { headers: bearer(token), json: { command: 'whoami' } });
    expect(run.status).toBe(200);
    expect(run.body['result']['run']['stdout']).toBe('sandbox\n');
    // The run belongs to jwt-tenant: an API-key tenant cannot see it.
    expect((await call(svc.base, 'GET', `/api/v1/runs/${String(run.body['id'])}`, { key: KEY_B })).status).toBe(404);
    expect((await call(svc.base, 'GET', `/api/v1/runs/${String(run.body['id'])}`, { headers: bearer(await hs256({ sub: 'jwt-tenant' })) })).status).toBe(200);
  });

  it('forged_expired_and_none_tokens_return_401', async () => {
    const wrongSecret = await hs256({ tenant: 'x' }, 'another-secret-0123456789abcdefghijklmn');
    const expired = await new SignJWT({ tenant: 'x' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(1_000).setExpirationTime(2_000).sign(new TextEncoder().encode(SECRET));
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ tenant: 'x' })).toString('base64url')}.`;
    // Algorithm confusion: an HS256 token whose "secret" is the RSA public key PEM.
    const confused = await hs256({ tenant: 'x' }, await exportSPKI(rsa.publicKey));
    for (const token of [wrongSecret, expired, none, confused, 'a.b.c']) {
      const r = await call(svc.base, 'GET', '/status', { headers: bearer(token) });
      expect(r.status, token.slice(0, 20)).toBe(401);
      expect(r.body['error']['code']).toBe('unauthorized');
    }
  });

  it('rs256_jwt_by_public_key_is_accepted', async () => {
    const token = await new SignJWT({ tenant: 'rsa-tenant' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(rsa.privateKey);
    expect((await call(svc.base, 'GET', '/status', { headers: bearer(token) })).status).toBe(200);
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT({ tenant: 'rsa-tenant' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(other.privateKey);
    expect((await call(svc.base, 'GET', '/status', { headers: bearer(forged) })).status).toBe(401);
  });

  it('rs256_jwt_by_jwks_url_is_accepted', async () => {
    const token = await new SignJWT({ tenant: 'jwks-tenant' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('5m').sign(jwksKey.privateKey);
    const r = await call(jwksSvc.base, 'POST', '/api/v1/runs/commands?wait=true', { headers: bearer(token), json: { command: 'echo via-jwks' } });
    expect(r.status).toBe(200);
    expect(r.body['result']['run']['stdout']).toBe('via-jwks\n');
    expect((await call(jwksSvc.base, 'GET', '/status', { key: KEY_A })).status).toBe(401); // no API keys on this one
  });

  it('rate_limit_returns_429_with_retry_after_per_tenant', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const r = await call(svc.base, 'GET', '/status', { key: KEY_A });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        expect(r.body['error']['code']).toBe('rate_limited');
      }
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Another tenant has its own budget.
    expect((await call(svc.base, 'GET', '/status', { key: KEY_B })).status).toBe(200);
  });
});

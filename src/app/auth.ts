// Builds the authenticator from configuration. With no API_KEYS and no JWT settings the service does
// not run open: it generates a random dev key for this process and the caller prints it.
import { randomBytes } from 'node:crypto';
import { ApiKeyStore, parseApiKeys } from '../api/auth/api-keys.js';
import { Authenticator } from '../api/auth/index.js';
import { JwtVerifier } from '../api/auth/jwt.js';
import { ConfigError, type Config } from '../config/settings.js';

export interface AuthSetup {
  auth: Authenticator;
  /** Set when no credentials were configured: a key valid for this process only (tenant `dev`). */
  devKey?: string;
}

export async function buildAuth(config: Readonly<Config>): Promise<AuthSetup> {
  let entries;
  try {
    entries = parseApiKeys(config.apiKeys);
  } catch (error) {
    throw new ConfigError('API_KEYS', (error as Error).message);
  }
  const jwt = await JwtVerifier.create({
    secret: config.jwtSecret,
    publicKeyPem: config.jwtPublicKey,
    jwksUrl: config.jwtJwksUrl,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    maxAgeSeconds: config.jwtMaxAgeSeconds,
    tenantPrefix: config.jwtTenantPrefix,
  }).catch((error: unknown) => {
    throw new ConfigError(config.jwtPublicKey ? 'JWT_PUBLIC_KEY' : 'JWT_JWKS_URL', (error as Error).message);
  });
  if (config.jwtSecret && config.jwtSecret.length < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 characters (HS256 key strength)');
  // The prefix keeps JWT tenants apart from API-key tenants (whose names cannot hold ':'); a prefix
  // without ':' could collide with one, so it must be empty (shared on purpose) or contain ':'.
  if (config.jwtTenantPrefix !== '' && !/^[A-Za-z0-9._@-]*:$/.test(config.jwtTenantPrefix)) {
    throw new ConfigError('JWT_TENANT_PREFIX', 'must be empty (JWT tenants share API-key tenant names) or end with ":" (e.g. "jwt:")');
  }
  let devKey: string | undefined;
  if (entries.length === 0 && !jwt.enabled) {
    devKey = `dev_${randomBytes(24).toString('base64url')}`;
    entries = parseApiKeys(`dev:${devKey}`);
  }
  return { auth: new Authenticator(new ApiKeyStore(entries), jwt), ...(devKey === undefined ? {} : { devKey }) };
}

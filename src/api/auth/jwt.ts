// Bearer JWTs: HS256 with a shared secret, RS256 with a PEM public key or a JWKS URL (jose). The
// algorithm list is fixed per key type so a token cannot pick `none` or swap RS256 for HS256
// (algorithm-confusion attacks). A token must expire (`exp`) within `maxAgeSeconds` (a leaked token
// without `exp` would be valid forever), and its tenant lives in its own namespace (`jwt:<claim>` by
// default), so a token whose `sub` is an API-key tenant's name cannot read that tenant's runs.
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';

export interface JwtSettings {
  secret: string;
  publicKeyPem: string;
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Longest lifetime accepted: `exp` at most this far ahead, `iat` (when present) at most this old. */
  maxAgeSeconds: number;
  /** Prepended to the claim to form the tenant; '' (an operator's choice) shares API-key tenant names. */
  tenantPrefix: string;
}

interface Verifier {
  algorithms: string[];
  key: Uint8Array | CryptoKey | ReturnType<typeof createRemoteJWKSet>;
}

const TENANT = /^[A-Za-z0-9._@:-]{1,128}$/;

export class JwtVerifier {
  private constructor(
    private readonly verifiers: readonly Verifier[],
    private readonly settings: JwtSettings,
  ) {}

  static async create(settings: JwtSettings): Promise<JwtVerifier> {
    const verifiers: Verifier[] = [];
    if (settings.secret) verifiers.push({ algorithms: ['HS256'], key: new TextEncoder().encode(settings.secret) });
    if (settings.publicKeyPem) verifiers.push({ algorithms: ['RS256'], key: await importSPKI(settings.publicKeyPem, 'RS256') });
    if (settings.jwksUrl) verifiers.push({ algorithms: ['RS256'], key: createRemoteJWKSet(new URL(settings.jwksUrl)) });
    return new JwtVerifier(verifiers, settings);
  }

  get enabled(): boolean {
    return this.verifiers.length > 0;
  }

  /** The tenant named by a valid token (prefix + `tenant` claim, else `sub`), or undefined. */
  async verify(token: string): Promise<string | undefined> {
    for (const verifier of this.verifiers) {
      const payload = await this.tryVerify(verifier, token);
      if (payload) {
        if (!this.withinMaxAge(payload)) return undefined;
        const tenant = typeof payload['tenant'] === 'string' ? payload['tenant'] : payload.sub;
        return typeof tenant === 'string' && TENANT.test(tenant) ? `${this.settings.tenantPrefix}${tenant}` : undefined;
      }
    }
    return undefined;
  }

  /** `exp` is required (jose checked it is in the future); neither it nor `iat` may stretch past the maximum age. */
  private withinMaxAge(payload: JWTPayload): boolean {
    const now = Math.floor(Date.now() / 1000);
    const maxAge = this.settings.maxAgeSeconds;
    if (typeof payload.exp !== 'number' || payload.exp - now > maxAge) return false;
    return typeof payload.iat !== 'number' || now - payload.iat <= maxAge;
  }

  private async tryVerify(verifier: Verifier, token: string): Promise<JWTPayload | undefined> {
    const options = {
      algorithms: verifier.algorithms,
      requiredClaims: ['exp'],
      ...(this.settings.issuer ? { issuer: this.settings.issuer } : {}),
      ...(this.settings.audience ? { audience: this.settings.audience } : {}),
    };
    try {
      const key = verifier.key;
      const { payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      return payload;
    } catch (error) {
      // A bad signature, expiry or claim mismatch means "not this verifier"; anything else is a bug.
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }
}

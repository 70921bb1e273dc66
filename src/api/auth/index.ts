// Who is calling: `X-API-Key: <key>`, or `Authorization: Bearer <API key | JWT>`. Every run, session
// and artifact belongs to the tenant resolved here; nothing is reachable without one.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { ApiKeyStore } from './api-keys.js';
import type { JwtVerifier } from './jwt.js';

export interface Principal {
  tenant: string;
  method: 'api_key' | 'jwt';
}

export class Authenticator {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly jwt: JwtVerifier,
  ) {}

  async authenticate(request: FastifyRequest): Promise<Principal> {
    const headerKey = single(request.headers['x-api-key']);
    if (headerKey !== undefined) {
      const tenant = this.keys.lookup(headerKey);
      if (tenant) return { tenant, method: 'api_key' };
      throw new ApiError('unauthorized');
    }
    const authorization = single(request.headers.authorization);
    const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw new ApiError('unauthorized');
    const token = match[1];
    const keyTenant = this.keys.lookup(token);
    if (keyTenant) return { tenant: keyTenant, method: 'api_key' };
    if (this.jwt.enabled && token.split('.').length === 3) {
      const tenant = await this.jwt.verify(token);
      if (tenant) return { tenant, method: 'jwt' };
    }
    throw new ApiError('unauthorized');
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

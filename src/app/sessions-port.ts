// Adapts the session manager to the HTTP layer's port. Its limits and name checks are DomainErrors;
// here they become catalogue codes (400 for a bad name, 429 when the tenant or service holds too many).
import { ApiError } from '../api/errors.js';
import type { SessionPort } from '../api/ports.js';
import { DomainError } from '../domains/errors.js';
import type { SessionManager } from '../sessions/index.js';

export function sessionPort(sessions: SessionManager): SessionPort {
  return {
    async open(tenant, name) {
      try {
        return await sessions.open(tenant, name);
      } catch (error) {
        if (error instanceof DomainError) {
          throw error.type === 'resource_limit' ? new ApiError('too_many_sessions', error.message, 60) : new ApiError('validation_failed', error.message);
        }
        throw error;
      }
    },
    touch: (tenant, idOrName) => sessions.touch(tenant, idOrName),
    close: (tenant, idOrName) => sessions.close(tenant, idOrName),
  };
}

// OpenAPI (generated from the route schemas) at /openapi.json and /openapi.yaml, Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOGUE } from './errors.js';

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'confine',
        version: '0.1.0',
        description:
          'Runs untrusted Terraform (validate/plan) and allowlisted shell commands in a fresh kernel jail per request. ' +
          'Errors answer with `{ "error": { "code", "message" } }`; the codes are listed in `x-error-catalogue`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key or a JWT (HS256 / RS256).' },
        },
      },
      tags: [
        { name: 'runs', description: 'API v1: submit, poll, cancel runs' },
        { name: 'sessions', description: 'Workspaces kept between requests (every request still gets a fresh jail)' },
        { name: 'seed', description: 'Routes compatible with the seed services' },
        { name: 'service', description: 'Health, readiness, status, metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  const documents = (): Record<string, unknown> => ({ ...(app.swagger() as object), 'x-error-catalogue': ERROR_CATALOGUE });
  app.get('/openapi.json', { schema: { hide: true } }, async () => documents());
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) => {
    const { stringify } = await import('yaml');
    return reply.type('application/yaml').send(stringify(documents()));
  });
}

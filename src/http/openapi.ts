// The OpenAPI document, built by @fastify/swagger from the routes' schemas, at GET /openapi.json.
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * Registers the swagger plugin on the root instance, before the routes, so it sees each one as
 * it is added. `GET /openapi.json` answers the document and needs no credentials.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tenancy',
        version,
        description: 'Tenant data kept apart on PostgreSQL. Tenant routes take an API key; '
          + '/admin routes take the admin token.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'A tenant API key' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token' },
        },
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
}

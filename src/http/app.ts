// The HTTP service: a Fastify app over one Tenancy; tenant routes in /v1, operator ones in /admin.
import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Tenancy } from '../tenancy.ts';
import { adminRoutes } from './admin-routes.ts';
import { auditFailedAuthentication, auditNamedTenants } from './audit-hooks.ts';
import { auditRoutes } from './audit-routes.ts';
import { backupRoutes } from './backup-routes.ts';
import { operationRoutes } from './operation-routes.ts';
import { Operations } from './operations.ts';
import { adminAuthentication, tenantAuthentication } from './auth.ts';
import { bulkDeleteRoutes } from './bulk-delete-routes.ts';
import { conversationRoutes } from './conversation-routes.ts';
import { documentRoutes } from './document-routes.ts';
import { encryptionRoutes } from './encryption-routes.ts';
import { doctorRoutes } from './doctor-routes.ts';
import { failureOf, installErrorHandling, sendError } from './error-reply.ts';
import { createHttpLogger, type HttpLoggerOptions } from './logger.ts';
import { registerOpenApi } from './openapi.ts';
import { requestId } from './request-id.ts';
import { residencyRoutes } from './residency-routes.ts';
import { rateLimit } from './rate-limit.ts';
import { zodValidatorCompiler } from './schemas.ts';
import { vectorRoutes } from './vector-routes.ts';

export interface AppOptions {
  /** pino options (plus `stream`), or false for no logging; defaults to the config's level. */
  logger?: HttpLoggerOptions | false;
  /** Token of the /admin routes; defaults to the config's `adminToken`. None: admin is closed. */
  adminToken?: string;
}

/** Large enough for a document of 10 MB of text plus its JSON escaping. */
export const bodyLimit = 12 * 1024 * 1024;

// Object ids are at most 128 characters, so a longer segment names nothing; it still goes
// through authentication and the store, which answers NOT_FOUND like for any unknown id.
const maxParamLength = 2048;

function routeOf(request: FastifyRequest): string | null {
  try {
    return request.routeOptions.url ?? null;
  } catch {
    return null;
  }
}

// The one line each request leaves: what was asked (route pattern, never the URL with its ids
// and query), how it ended and how long it took.
function logCompletion(request: FastifyRequest, reply: FastifyReply): void {
  const code = failureOf(request);
  request.log.info({
    method: request.method,
    route: routeOf(request),
    statusCode: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
    ...(code === undefined ? {} : { code }),
  }, 'request completed');
}

/**
 * Builds the service over an open Tenancy. The app does not own the Tenancy: closing the app
 * leaves it open.
 *
 * @example
 * const app = buildApp(tenancy, { adminToken: process.env.ADMIN_TOKEN });
 * await app.inject({ method: 'GET', url: '/v1/conversations',
 *   headers: { authorization: `Bearer ${apiKey.secret}` } });
 * // one session of the key's tenant: BEGIN; set_config(…); SELECT … LIMIT 51; COMMIT
 */
export function buildApp(tenancy: Tenancy, options: AppOptions = {}): FastifyInstance {
  const logger = options.logger === false
    ? undefined
    : createHttpLogger(options.logger ?? { level: tenancy.config.logLevel });
  const adminToken = options.adminToken ?? tenancy.config.adminToken?.reveal();
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit,
    routerOptions: { maxParamLength },
    // Requests that reach a closing app are still served (the Tenancy closes after the app),
    // rather than answered with Fastify's own 503 body, which is not our error shape.
    return503OnClosing: false,
    frameworkErrors: (err, request, reply) => {
      sendError(err, request, reply);
      logCompletion(request, reply);
    },
  }) as unknown as FastifyInstance;

  app.setValidatorCompiler(zodValidatorCompiler);
  installErrorHandling(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => logCompletion(request, reply));
  app.addHook('onResponse', auditFailedAuthentication(tenancy));

  registerOpenApi(app);
  const operations = new Operations(app.log);
  app.addHook('onClose', async () => operations.close());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  void app.register(async (scope) => {
    scope.addHook('onRequest', tenantAuthentication(tenancy));
    scope.addHook('onRequest', rateLimit(tenancy));
    scope.addHook('preValidation', auditNamedTenants(tenancy));
    await scope.register(conversationRoutes(tenancy));
    await scope.register(documentRoutes(tenancy));
    await scope.register(bulkDeleteRoutes(tenancy));
    await scope.register(vectorRoutes(tenancy));
  }, { prefix: '/v1' });

  void app.register(async (scope) => {
    scope.addHook('onRequest', adminAuthentication(adminToken));
    await scope.register(adminRoutes(tenancy));
    await scope.register(encryptionRoutes(tenancy));
    await scope.register(auditRoutes(tenancy));
    await scope.register(doctorRoutes(tenancy));
    await scope.register(backupRoutes(tenancy, operations));
    await scope.register(residencyRoutes(tenancy, operations));
    await scope.register(operationRoutes(operations));
  }, { prefix: '/admin' });

  return app;
}

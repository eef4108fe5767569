// Fixtures of the HTTP suites: one deployment and app per driver per describe block, requests
// sent in-process with inject.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ConfigInput, Isolation } from '../../src/config/schema.ts';
import { buildApp, type AppOptions } from '../../src/http/app.ts';
import type { Tenancy } from '../../src/index.ts';
import { openFresh, serverAvailable, type DriverKind } from '../support/drivers.ts';

/** False when the Postgres server does not answer (outside CI): the pg suites skip. */
export const pgAvailable = await serverAvailable();

/** True when the suites of `kind` cannot run here. */
export function skipDriver(kind: DriverKind): boolean {
  return kind === 'pg' && !pgAvailable;
}

export const adminToken = `admin-${randomBytes(16).toString('hex')}`;
export const admin = { authorization: `Bearer ${adminToken}` };

export function bearer(secret: string): { authorization: string } {
  return { authorization: `Bearer ${secret}` };
}

export interface HttpDeployment {
  readonly tenancy: Tenancy;
  readonly app: FastifyInstance;
}

/**
 * Opens a fresh deployment of `kind` and an app over it before the block's tests, and closes
 * both after. `configure` may add routes to the app before it is ready.
 */
export function useApp(kind: DriverKind, options: {
  app?: AppOptions;
  config?: Partial<ConfigInput>;
  configure?: (app: FastifyInstance, tenancy: Tenancy) => void;
} = {}): HttpDeployment {
  let opened: Awaited<ReturnType<typeof openFresh>> | undefined;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    opened = await openFresh(kind, {}, options.config ?? {});
    app = buildApp(opened.tenancy, { logger: false, adminToken, ...options.app });
    options.configure?.(app, opened.tenancy);
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await opened?.close();
  });
  return {
    get tenancy() {
      if (opened === undefined) throw new Error('the deployment is not open');
      return opened.tenancy;
    },
    get app() {
      if (app === undefined) throw new Error('the app is not built');
      return app;
    },
  };
}

export interface CreatedTenant {
  id: string;
  isolation: Isolation;
  secret: string;
  keyId: string;
}

/** Creates a tenant through the admin route and returns its first key. */
export async function createTenant(app: FastifyInstance, id: string, isolation: Isolation):
  Promise<CreatedTenant> {
  const res = await app.inject({
    method: 'POST', url: '/admin/tenants', headers: admin, payload: { id, isolation },
  });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json() as { tenant: { id: string; isolation: Isolation };
    apiKey: { keyId: string; secret: string } };
  expect(body.tenant.id).toBe(id);
  expect(body.tenant.isolation).toBe(isolation);
  return { id, isolation, secret: body.apiKey.secret, keyId: body.apiKey.keyId };
}

/** The error body of a response, checked for shape, with its request id taken out. */
export function errorOf(res: LightMyRequestResponse): { code: string; message: string } {
  const body = res.json() as { error: { code: string; message: string; requestId: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  return { code: body.error.code, message: body.error.message };
}

/** Asserts status and code of an error response; returns its message. */
export function expectError(res: LightMyRequestResponse, status: number, code: string): string {
  expect(res.statusCode, res.body).toBe(status);
  const error = errorOf(res);
  expect(error.code).toBe(code);
  return error.message;
}

/** The raw body with its request id blanked, for byte-for-byte comparison of two answers. */
export function withoutRequestId(res: LightMyRequestResponse): string {
  const id = res.headers['x-request-id'];
  expect(typeof id).toBe('string');
  return res.body.replace(id as string, '<request-id>');
}

/** A fresh id nobody has used. */
export function randomId(prefix = 'x'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

// A client that hangs up mid-request: its session is aborted and rolled back, on both drivers.
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { tenantAuthentication } from '../../src/http/auth.ts';
import { inTenant } from '../../src/http/tenant-scope.ts';
import type { Tenancy } from '../../src/index.ts';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import { bearer, createTenant, skipDriver, useApp, type CreatedTenant } from './harness.ts';

// A tenant route that writes, then dawdles before committing, as a slow import would.
function addSlowRoute(app: FastifyInstance, tenancy: Tenancy): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', tenantAuthentication(tenancy));
    scope.post<{ Body: { id: string } }>('/slow-create', async (request, reply) => {
      await inTenant(tenancy, request, reply, async (t) => {
        await t.conversations.create({ id: request.body.id, title: 'slow' });
        await delay(600);
      });
      return { created: request.body.id };
    });
  }, { prefix: '/test' });
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`client disconnects on ${kind}`, () => {
    const d = useApp(kind, { configure: addSlowRoute });
    const tenants: CreatedTenant[] = [];
    let base = '';

    beforeAll(async () => {
      for (const isolation of isolations) {
        tenants.push(await createTenant(d.app, tenantName(`dc-${isolation}`), isolation));
      }
      // Closed with the app by useApp.
      base = await d.app.listen({ host: '127.0.0.1', port: 0 });
    });

    // node:http without an agent: one connection per request and no pooled spares, so closing
    // the app waits for nothing the client keeps open.
    const send = (t: CreatedTenant, id: string, hangUpAfterMs?: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const body = JSON.stringify({ id });
        const req = request(`${base}/test/slow-create`, {
          method: 'POST', agent: false,
          headers: { ...bearer(t.secret), 'content-type': 'application/json',
            'content-length': Buffer.byteLength(body) },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => { text += chunk; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
        req.end(body);
        if (hangUpAfterMs !== undefined) {
          setTimeout(() => req.destroy(new Error('hung up')), hangUpAfterMs);
        }
      });

    const exists = (t: CreatedTenant, id: string) => d.tenancy.withTenant(t.id,
      async (scope) => (await scope.conversations.get(id)) !== undefined);

    it('commits when the client waits for the answer', async () => {
      for (const t of tenants) {
        const res = await send(t, 'kept');
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ created: 'kept' });
        expect(await exists(t, 'kept')).toBe(true);
      }
    });

    it('rolls back when the client hangs up before the answer', async () => {
      for (const t of tenants) {
        await expect(send(t, 'abandoned', 150)).rejects.toThrow('hung up');
        // Long enough for the handler's delay to end and its rollback to run.
        await delay(900);
        expect(await exists(t, 'abandoned')).toBe(false);
        const list = await d.app.inject({ url: '/v1/conversations', headers: bearer(t.secret) });
        expect(list.json().items.map((c: { id: string }) => c.id)).toEqual(['kept']);
      }
    });
  });
}

// What the service logs: one line per request with reqId and tenantId, and never content,
// bodies, query strings, API keys or the admin token.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import { bearer, skipDriver, useApp, type CreatedTenant } from './harness.ts';

const marker = `MARKER${randomBytes(6).toString('hex')}`;
const configToken = `config-admin-${randomBytes(12).toString('hex')}`;

interface Line {
  level: number;
  msg?: string;
  reqId?: string;
  tenantId?: string;
  route?: string | null;
  statusCode?: number;
  [key: string]: unknown;
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`service logs on ${kind}`, () => {
    const output: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.push(chunk.toString('utf8'));
        done();
      },
    });
    const d = useApp(kind, {
      // The admin token comes from the config here: buildApp's default.
      config: { adminToken: configToken },
      app: { adminToken: undefined, logger: { level: 'trace', stream } },
      configure: (app) => {
        app.get('/boom', async () => {
          throw new Error(`failure mentioning ${marker}`);
        });
      },
    });
    const tenants: CreatedTenant[] = [];
    const admin = { authorization: `Bearer ${configToken}` };

    beforeAll(async () => {
      for (const isolation of isolations) {
        const res = await d.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin,
          payload: { id: tenantName(`log-${isolation}`), isolation, displayName: marker } });
        expect(res.statusCode, res.body).toBe(201);
        const body = res.json();
        tenants.push({ id: body.tenant.id, isolation, secret: body.apiKey.secret,
          keyId: body.apiKey.keyId });
      }
      for (const t of tenants) {
        const as = bearer(t.secret);
        const requests = [
          { method: 'POST', url: '/v1/conversations', payload: { id: `${marker}-c`,
            title: marker, metadata: { note: marker },
            messages: [{ role: 'user', content: `my card is ${marker}` }] } },
          { method: 'POST', url: `/v1/conversations/${marker}-c/messages`,
            payload: { role: 'assistant', content: marker } },
          { method: 'PATCH', url: `/v1/conversations/${marker}-c`, payload: { title: marker } },
          { method: 'GET', url: `/v1/conversations/${marker}-c` },
          { method: 'GET', url: `/v1/conversations?limit=2&after=${marker}` },
          { method: 'POST', url: '/v1/documents', payload: { id: `${marker}-d`, title: marker,
            text: marker } },
          { method: 'GET', url: `/v1/documents/${marker}-d` },
          { method: 'GET', url: `/v1/documents/${marker}-missing` },
          { method: 'POST', url: '/v1/conversations', payload: { title: 'x', [marker]: 1 } },
          { method: 'POST', url: '/v1/conversations', payload: { title: 'x',
            messages: [{ role: marker, content: marker }] } },
          { method: 'POST', url: '/v1/conversations', payload: `{"title": "${marker}`,
            headers: { 'content-type': 'application/json' } },
        ] as const;
        for (const r of requests) {
          const res = await d.app.inject({ method: r.method, url: r.url,
            payload: 'payload' in r ? r.payload : undefined,
            headers: { ...as, ...('headers' in r ? r.headers : {}) } });
          expect(res.statusCode).toBeLessThan(500);
        }
        await d.app.inject({ url: '/v1/conversations', headers: { ...as,
          'x-request-id': `trace-${t.isolation}` } });
        await d.app.inject({ method: 'POST', url: `/admin/tenants/${t.id}/keys`, headers: admin });
      }
      await d.app.inject({ url: '/v1/conversations',
        headers: { authorization: `Bearer ${marker}` } });
      await d.app.inject({ url: '/admin/tenants', headers: { authorization: `Bearer ${marker}` } });
      await d.app.inject({ url: `/nowhere?q=${marker}`,
        headers: { 'x-request-id': `${marker} x` } });
      const boom = await d.app.inject({ url: '/boom' });
      expect(boom.statusCode).toBe(500);
    });

    const lines = (): Line[] => output.join('').split('\n').filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);

    it('never logs content, query strings, API keys or the admin token', () => {
      const all = output.join('');
      expect(lines().length).toBeGreaterThan(40);
      expect(all).not.toContain(marker);
      expect(all).not.toContain(configToken);
      for (const t of tenants) {
        expect(all).not.toContain(t.secret);
        expect(all).not.toContain(t.secret.slice(-43));
      }
      expect(all).not.toMatch(/limit=|after=|\?q=/);
      expect(all.toLowerCase()).not.toContain('bearer');
    });

    it('leaves one line per request, with reqId, route pattern, status and duration', () => {
      const done = lines().filter((l) => l.msg === 'request completed');
      // 12 tenant requests and 1 admin request per tenant, 3 creations, 4 more at the end.
      expect(done.length).toBe(tenants.length * 13 + 3 + 4);
      for (const line of done) {
        expect(line.reqId).toEqual(expect.any(String));
        expect(line.statusCode).toEqual(expect.any(Number));
        expect(line.durationMs).toEqual(expect.any(Number));
        expect(line.method).toMatch(/^(GET|POST|PATCH|DELETE)$/);
      }
      const routes = new Set(done.map((l) => l.route));
      expect(routes).toContain('/v1/conversations/:id/messages');
      expect(routes).toContain('/admin/tenants/:id/keys');
      for (const t of tenants) {
        const traced = done.find((l) => l.reqId === `trace-${t.isolation}`);
        expect(traced).toMatchObject({ tenantId: t.id, route: '/v1/conversations',
          statusCode: 200 });
      }
    });

    it('binds tenantId to every line of an authenticated tenant request', () => {
      const tenantLines = lines().filter((l) => typeof l.route === 'string'
        && l.route.startsWith('/v1/') && l.statusCode !== 401);
      expect(tenantLines.length).toBe(tenants.length * 12);
      const ids = new Set(tenants.map((t) => t.id));
      for (const line of tenantLines) expect(ids.has(line.tenantId as string)).toBe(true);
      const refused = lines().filter((l) => l.statusCode === 401);
      expect(refused.length).toBe(2);
      for (const line of refused) expect(line.tenantId).toBeUndefined();
      for (const line of lines().filter((l) => l.route?.startsWith('/admin/'))) {
        expect(line.tenantId).toBeUndefined();
      }
    });

    it('logs a failure with its type and frames but not its message', () => {
      const failed = lines().filter((l) => l.msg === 'request failed');
      expect(failed.length).toBe(1);
      const err = failed[0]?.err as { type: string; stack: string };
      expect(err.type).toBe('Error');
      expect(err.stack).toMatch(/^\s+at /);
      expect(failed[0]?.code).toBe('INTERNAL');
    });
  });
}

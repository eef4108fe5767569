// serve(): a real process listening on loopback, stopped by SIGTERM, leaving its data intact.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/http/serve.ts';
import { Tenancy } from '../../src/index.ts';
import { drivers, freshDeployment, type TestDeployment } from '../support/drivers.ts';
import { skipDriver } from './harness.ts';

const adminToken = 'serve-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
const fixture = resolve(import.meta.dirname, 'fixtures', 'serve-process.ts');

/** Starts the service process and resolves with it and the address it printed. */
async function startService(config: object): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: process.cwd(),
    env: { ...process.env, TENANCY_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the service exited with ${String(code)} before listening`);
    }),
  ])) as [string];
  return { child, address: (JSON.parse(first) as { address: string }).address };
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`serve on ${kind}`, () => {
    let deployment: TestDeployment | undefined;
    const config = () => ({ ...deployment?.config, adminToken });
    beforeAll(async () => {
      deployment = await freshDeployment(kind);
    });
    afterAll(async () => {
      await deployment?.cleanup();
    });

    it('listens, answers, and on SIGTERM closes the app and the Tenancy, then exits 0',
      async () => {
        const { child, address } = await startService(config());
        expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const exited = once(child, 'exit');
        try {
          expect(await (await fetch(`${address}/healthz`)).json()).toEqual({ status: 'ok' });
          const made = await fetch(`${address}/admin/tenants`, {
            method: 'POST', headers: admin,
            body: JSON.stringify({ id: 'served', isolation: 'schema' }),
          });
          expect(made.status).toBe(201);
          const { apiKey } = await made.json() as { apiKey: { secret: string } };
          const posted = await fetch(`${address}/v1/conversations`, {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey.secret}`,
              'content-type': 'application/json' },
            body: JSON.stringify({ id: 'kept', title: 'Survives the restart' }),
          });
          expect(posted.status).toBe(201);
        } finally {
          child.kill('SIGTERM');
        }
        const [code, signal] = await exited;
        expect({ code, signal }).toEqual({ code: 0, signal: null });
        await expect(fetch(`${address}/healthz`)).rejects.toThrow();
      });

    it('serves in-process on the same data, and close() removes its signal handlers',
      async () => {
        // Opening succeeds only if the process above released the data folder.
        const tenancy = await Tenancy.open(config());
        const before = process.listenerCount('SIGTERM');
        const serving = await serve(tenancy, { host: '127.0.0.1', port: 0, logger: false,
          graceMillis: 1000 });
        try {
          expect(process.listenerCount('SIGTERM')).toBe(before + 1);
          expect(process.listenerCount('SIGINT')).toBeGreaterThan(0);
          const title = await tenancy.withTenant('served',
            async (t) => (await t.conversations.get('kept'))?.title);
          expect(title).toBe('Survives the restart');
          const health = await fetch(`${serving.address}/healthz`);
          expect(health.status).toBe(200);
        } finally {
          await serving.close();
          await serving.close();
        }
        expect(process.listenerCount('SIGTERM')).toBe(before);
        await expect(tenancy.withTenant('served', async () => 1)).rejects.toThrow('closed');
      });
  });
}

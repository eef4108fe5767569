// Secrets stay secret: every log line of a full run (service and library), every error body and
// the printed config hold no key material, API key, admin token or sealed plaintext.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import type { InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { unwrapTenantKey, type KeyPurpose } from '../../src/crypto/key-wrap.ts';
import {
  LocalKeyProvider, type LocalKeyProviderConfig,
} from '../../src/crypto/providers/local/local-provider.ts';
import { buildApp } from '../../src/http/app.ts';
import { isTenancyError, type Tenancy } from '../../src/index.ts';
import type { LogEvent } from '../../src/log.ts';
import { drivers, openFresh } from '../support/drivers.ts';
import { keysConfig } from '../support/keys-config.ts';
import { skipDriver } from '../core/harness.ts';

const localConfig = (extra: { env?: string } = {}): LocalKeyProviderConfig =>
  keysConfig({ provider: 'local', ...extra }) as LocalKeyProviderConfig;

const marker = `MARKER${randomBytes(6).toString('hex')}`;
const adminToken = `admin-${randomBytes(16).toString('hex')}`;

/** Every text form a key's bytes could be printed in. */
function forms(key: Buffer): string[] {
  return [key.toString('hex'), key.toString('base64'), key.toString('base64url'),
    JSON.stringify(key.toJSON().data)];
}

/** The keyring of one tenant unwrapped by hand, with the region's root keys, for the search. */
async function keyMaterial(tenancy: Tenancy, tenantId: string, dataDir: string):
  Promise<Buffer[]> {
  const tenant = await tenancy.tenants.get(tenantId);
  const rows = await tenancy.regionOf(tenant).driver.shared.transaction('admin', async (tx) => ({
    ring: (await tx.query<{ keyring_id: Uint8Array; provider: string; root_key_id: string;
      wrapped_master: Uint8Array }>('SELECT * FROM tenancy_keys.keyrings WHERE tenant_id = $1',
    [tenantId])).rows[0],
    keys: (await tx.query<{ purpose: KeyPurpose; version: number; wrapped: Uint8Array | null }>(
      'SELECT purpose, version, wrapped FROM tenancy_keys.tenant_keys WHERE tenant_id = $1',
      [tenantId])).rows,
  }));
  const ring = rows.ring;
  if (ring === undefined) throw new Error('no keyring');
  const provider = await LocalKeyProvider.open(localConfig(),
    { dataDir, region: tenant.region });
  try {
    const master = await provider.unwrap({ provider: ring.provider, rootKeyId: ring.root_key_id,
      blob: Buffer.from(ring.wrapped_master) }, { tenantId, region: tenant.region });
    const found = [master, Buffer.from(ring.wrapped_master)];
    for (const key of rows.keys) {
      if (key.wrapped === null) continue;
      found.push(Buffer.from(key.wrapped), unwrapTenantKey(master, key.wrapped, {
        tenantId, keyringId: Buffer.from(ring.keyring_id), purpose: key.purpose,
        version: key.version,
      }));
    }
    return found;
  } finally {
    await provider.close();
  }
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`secrets through a full run on ${kind}`, () => {
    let opened: Awaited<ReturnType<typeof openFresh>> | undefined;
    afterAll(() => opened?.close());

    it('never show in logs, error bodies or printed objects', async () => {
      const lines: string[] = [];
      const events: LogEvent[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      });
      opened = await openFresh(kind, { log: (event) => events.push(event) },
        { adminToken, keyCache: { maxTenants: 10, maxAgeSeconds: 1 } });
      const { tenancy, deployment } = opened;
      const app = buildApp(tenancy, { logger: { level: 'trace', stream } });
      await app.ready();
      const bodies: string[] = [];
      const admin = { authorization: `Bearer ${adminToken}` };
      const send = async (request: InjectOptions) => {
        const res = await app.inject(request);
        // Error bodies and operator answers; a tenant's own successful reads carry its content.
        if (res.statusCode >= 400 || String(request.url).startsWith('/admin')) {
          bodies.push(res.body);
        }
        return res;
      };
      const secrets: string[] = [adminToken, marker];
      const material: Buffer[] = [];
      try {
        const created = await send({ method: 'POST', url: '/admin/tenants', headers: admin,
          payload: { id: 'sec-acme', isolation: 'schema' } });
        const apiKey = (created.json() as { apiKey: { secret: string } }).apiKey.secret;
        secrets.push(apiKey);
        bodies.pop(); // the one answer that must carry the key
        const as = { authorization: `Bearer ${apiKey}` };
        await send({ method: 'POST', url: '/v1/conversations', headers: as, payload: {
          id: 'c-1', title: `${marker} title`,
          messages: [{ role: 'user', content: `${marker} content` }] } });
        await send({ method: 'POST', url: '/v1/conversations', headers: as, payload: {
          id: 'c-2', title: `${marker} second` } });
        await send({ method: 'POST', url: '/v1/documents', headers: as, payload: {
          id: 'd-1', title: `${marker} doc`, text: `${marker} text`, externalRef: marker } });
        await send({ method: 'GET', url: '/v1/conversations/c-1', headers: as });
        await send({ method: 'GET', url: `/v1/documents?externalRef=${marker}`, headers: as });
        material.push(...await keyMaterial(tenancy, 'sec-acme', deployment.dataDir));
        // Errors: a moved value, a bad request quoting the marker, wrong credentials, refusals.
        await tenancy.withTenant('sec-acme', async (t) => {
          const table = t.session.table('conversations');
          await t.session.query(`UPDATE ${table} SET title = (SELECT title FROM ${table}
            WHERE id = 'c-1') WHERE id = 'c-2'`);
        });
        expect((await send({ method: 'GET', url: '/v1/conversations/c-2', headers: as }))
          .statusCode).toBe(500);
        await send({ method: 'POST', url: '/v1/conversations', headers: as,
          payload: { id: `bad ${marker}`, title: marker } });
        await send({ method: 'GET', url: '/v1/conversations', headers:
          { authorization: `Bearer ${apiKey.slice(0, -2)}xx` } });
        await send({ method: 'GET', url: '/admin/tenants', headers:
          { authorization: `Bearer ${adminToken}x` } });
        await send({ method: 'POST', url: '/admin/tenants/sec-acme/encryption/rotate',
          headers: admin });
        await send({ method: 'POST', url: '/admin/tenants/sec-acme/encryption/retire',
          headers: admin, payload: { version: 1 } });
        await send({ method: 'POST', url: '/admin/tenants/sec-acme/encryption/reencrypt',
          headers: admin });
        await send({ method: 'POST', url: '/admin/encryption/rotate-root', headers: admin,
          payload: {} });
        material.push(...await keyMaterial(tenancy, 'sec-acme', deployment.dataDir));
        await send({ method: 'GET', url: '/admin/tenants/sec-acme/encryption', headers: admin });
        await send({ method: 'POST', url: '/admin/tenants/sec-acme/shred', headers: admin });
        await send({ method: 'GET', url: '/admin/tenants/sec-acme/encryption', headers: admin });
        const failure = await tenancy.keys.open('sec-acme',
          { table: 'conversations', column: 'title', rowId: 'c-1' }, Buffer.alloc(80))
          .catch((err: unknown) => err);
        expect(isTenancyError(failure, 'KEYS_DESTROYED')).toBe(true);
        bodies.push(JSON.stringify(failure), inspect(failure, { depth: 9 }));
      } finally {
        await app.close();
      }
      // Every root key version of the region, as its key files hold them.
      const keyDir = join(deployment.dataDir, 'keys');
      for (const file of await readdir(keyDir)) {
        const text = (await readFile(join(keyDir, file), 'utf8')).trim();
        secrets.push(text);
        material.push(Buffer.from(text, 'base64'));
      }
      expect(material.length).toBeGreaterThanOrEqual(10);
      const printed = [JSON.stringify(tenancy.config), inspect(tenancy.config, { depth: 9 }),
        JSON.stringify(events)];
      const everything = [...lines, ...bodies, ...printed].join('\n');
      // The run did log and did answer: the search has something to search.
      expect(lines.length).toBeGreaterThan(15);
      expect(everything).toContain('sec-acme');
      expect(everything).toContain('DECRYPT_FAILED');
      expect(everything).toContain('KEYS_DESTROYED');
      for (const [i, secret] of secrets.entries()) {
        const at = everything.indexOf(secret);
        // On a failure, which secret and the text around it, with the secret itself masked.
        const near = at < 0 ? '' : everything.slice(Math.max(0, at - 120), at + secret.length + 40)
          .replace(secret, '<secret>');
        expect(near, `secret ${i}`).toBe('');
      }
      for (const key of material) {
        for (const form of forms(key)) expect(everything.includes(form), 'key material')
          .toBe(false);
      }
    });
  });
}

// After a region move made by one process, another process that had the tenant's keys cached
// must not seal new values under the source region's keys, which the move destroyed: every value
// written after the move stays readable, by every process.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput, Isolation } from '../../src/config/schema.ts';
import { Tenancy } from '../../src/index.ts';
import {
  onServer, serverAvailable, serverUrl, tenantName, withDatabase,
} from '../support/drivers.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a region move seen from another process', () => {
  const suffix = randomBytes(4).toString('hex');
  const databases = { eu: `tenancy_atk_eu_${suffix}`, us: `tenancy_atk_us_${suffix}` };
  let dataDir = '';
  let tenancy: Tenancy | undefined;
  let other: Tenancy | undefined;
  let config: ConfigInput | undefined;

  beforeAll(async () => {
    if (!await serverAvailable()) throw new Error('the Postgres server does not answer');
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-atk-move-'));
    for (const name of Object.values(databases)) {
      await onServer(serverUrl, `CREATE DATABASE "${name}"`);
    }
    config = {
      dataDir, logLevel: 'silent', catalogRegion: 'eu', defaultRegion: 'eu',
      regions: {
        eu: { database: withDatabase(serverUrl, databases.eu), tenantDatabasePrefix: `ae${suffix}_`,
          keys: { provider: 'local', file: join(dataDir, 'keys', 'eu.root') } },
        us: { database: withDatabase(serverUrl, databases.us), tenantDatabasePrefix: `au${suffix}_`,
          keys: { provider: 'local', file: join(dataDir, 'keys', 'us.root') } },
      },
    };
    tenancy = await Tenancy.open(config);
    other = await Tenancy.open(config);
  });

  afterAll(async () => {
    await tenancy?.close();
    await other?.close();
    for (const name of Object.values(databases)) {
      await onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
        .catch(() => undefined);
    }
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  for (const isolation of ['row', 'schema'] as Isolation[]) {
    it(`keeps a ${isolation} tenant's writes readable when another process moved it`, async () => {
      const t = tenancy as Tenancy;
      const id = tenantName(`kc-${isolation}`);
      await t.tenants.create({ id, isolation, region: 'eu' });
      // This process now holds the tenant's eu keys in its key cache.
      await t.withTenant(id, (s) => s.documents.create({ id: 'early', title: 'E', text: 'e' }));
      const result = await (other as Tenancy).tenants.move(id, { region: 'us' });
      expect(result.moved).toBe(true);

      const written = await t.withTenant(id, (s) =>
        s.documents.create({ id: 'after', title: 'A', text: 'written after the move' }))
        .then(() => true, () => false);
      const fresh = await Tenancy.open(config as ConfigInput);
      try {
        const read = (doc: string) => fresh.withTenant(id, (s) => s.documents.get(doc))
          .then((d) => d?.text, (err: { code?: string }) => `failed ${err.code ?? ''}`);
        expect(await read('early')).toBe('e');
        // A write this process acknowledged must be readable by a process that starts now.
        if (written) expect(await read('after')).toBe('written after the move');
      } finally {
        await fresh.close();
      }
      // And this process reads the moved data too.
      const early = await t.withTenant(id, (s) => s.documents.get('early'))
        .then((d) => d?.text, (err: { code?: string }) => `failed ${err.code ?? ''}`);
      expect(early).toBe('e');

      // Once its cached catalog row has expired, this process writes in us, under us keys.
      await sleep(1100);
      await t.withTenant(id, (s) => s.documents.create({ id: 'in-us', title: 'U', text: 'u' }));
      // Back to eu within the key cache's life: the eu keys this process loaded first were
      // destroyed by the first move, and the tenant has a new eu keyring now.
      expect((await (other as Tenancy).tenants.move(id, { region: 'eu' })).moved).toBe(true);
      await sleep(1100);
      await t.withTenant(id, (s) => s.documents.create({ id: 'back', title: 'B', text: 'b' }));
      const again = await Tenancy.open(config as ConfigInput);
      try {
        const texts = await again.withTenant(id, async (s) => {
          const found: (string | undefined)[] = [];
          for (const doc of ['early', 'in-us', 'back']) {
            found.push((await s.documents.get(doc))?.text);
          }
          return found;
        });
        expect(texts).toEqual(['e', 'u', 'b']);
      } finally {
        await again.close();
      }
    });
  }
});

// Per-tenant encryption end to end, per driver and isolation: sealed storage, moved values,
// blind index, rotation and re-encryption, retirement, root rotation, the key cache,
// crypto-shredding and a library user's declared encrypted fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyProvider } from '../../src/crypto/providers/index.ts';
import type { KeyProvider, WrapContext, WrappedKey } from '../../src/crypto/key-provider.ts';
import {
  builtinMigrations, Tenancy, type Migration, type TenantScope,
} from '../../src/index.ts';
import { drivers, freshDeployment, isolations, type TestDeployment } from '../support/drivers.ts';
import { keysConfig } from '../support/keys-config.ts';
import { expectCode, skipDriver } from '../core/harness.ts';

/** A library user's own table with one sealed column, in every isolation. */
const notesMigration: Migration = {
  version: 2,
  name: 'notes',
  up: ({ table, secure }) => `
CREATE TABLE ${table('notes')} (
  tenant_id text NOT NULL DEFAULT tenancy.current_tenant(),
  id integer NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
${secure('notes')}`,
};

/** Counts what reaches the key provider, so cache hits and single-flight loads show. */
class CountingProvider implements KeyProvider {
  unwraps = 0;
  constructor(private readonly inner: KeyProvider) {}
  get kind(): string {
    return this.inner.kind;
  }
  wrap(key: Buffer, context: WrapContext): Promise<WrappedKey> {
    return this.inner.wrap(key, context);
  }
  unwrap(wrapped: WrappedKey, context: WrapContext): Promise<Buffer> {
    this.unwraps += 1;
    return this.inner.unwrap(wrapped, context);
  }
  currentRootKeyId(): Promise<string> {
    return this.inner.currentRootKeyId();
  }
  rotateRoot(): Promise<string> {
    return this.inner.rotateRoot();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const raw = async (t: TenantScope, table: string, column: string, id: string | number):
  Promise<Buffer> => {
  const found = await t.session.query<Record<string, Uint8Array>>(
    `SELECT ${column} AS v FROM ${t.session.table(table)} WHERE id = $1`, [id]);
  return Buffer.from(found.rows[0]?.v as Uint8Array);
};

const setRaw = (t: TenantScope, table: string, column: string, id: string | number,
  value: Uint8Array): Promise<unknown> =>
  t.session.query(`UPDATE ${t.session.table(table)} SET ${column} = $2 WHERE id = $1`,
    [id, value]);

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`per-tenant encryption on ${kind}`, () => {
    let deployment: TestDeployment;
    let tenancy: Tenancy;
    let provider: CountingProvider;
    const tenantOf = (isolation: string) => `enc-${isolation}`;

    beforeAll(async () => {
      deployment = await freshDeployment(kind, { keyCache: { maxTenants: 100,
        maxAgeSeconds: 1 } });
      provider = new CountingProvider(await createKeyProvider(keysConfig({ provider: 'local' }),
        { dataDir: deployment.dataDir, region: 'local' }));
      tenancy = await Tenancy.open(deployment.config, {
        migrations: [...builtinMigrations, notesMigration],
        encryptedFields: [{ table: 'notes', idColumn: 'id', columns: ['body'] }],
        keyProviders: { local: provider },
      });
      for (const isolation of isolations) {
        for (const id of [tenantOf(isolation), `other-${isolation}`]) {
          await tenancy.tenants.create({ id, isolation });
          await tenancy.withTenant(id, async (t) => {
            await t.conversations.create({ id: 'c-1', title: `${id} first title`, messages: [
              { role: 'user', content: `${id} says hello` },
              { role: 'assistant', content: `${id} answers` },
            ] });
            await t.conversations.create({ id: 'c-2', title: `${id} second title` });
            await t.documents.create({ id: 'd-1', title: `${id} doc`, text: `${id} body text`,
              externalRef: 'CRM-1042' });
            await t.documents.create({ id: 'd-2', title: `${id} doc 2`, text: 'x',
              externalRef: 'CRM-7' });
          });
        }
      }
    });

    afterAll(async () => {
      await tenancy?.close();
      await deployment?.cleanup();
    });

    it.each(isolations)('stores %s titles, contents and documents sealed, reads them plain',
      async (isolation) => {
        const id = tenantOf(isolation);
        await tenancy.withTenant(id, async (t) => {
          const values = [
            await raw(t, 'conversations', 'title', 'c-1'),
            await raw(t, 'documents', 'title', 'd-1'),
            await raw(t, 'documents', 'text', 'd-1'),
            await raw(t, 'documents', 'external_ref', 'd-1'),
          ];
          const messages = await t.session.query<{ content: Uint8Array }>(
            `SELECT content FROM ${t.session.table('messages')}`);
          for (const row of messages.rows) values.push(Buffer.from(row.content));
          for (const value of values) {
            expect(value[0]).toBe(0xe7);
            expect(value.includes(Buffer.from(id))).toBe(false);
            expect(value.includes(Buffer.from('CRM'))).toBe(false);
          }
          const conversation = await t.conversations.get('c-1');
          expect(conversation?.title).toBe(`${id} first title`);
          expect(conversation?.messages.map((m) => m.content))
            .toEqual([`${id} says hello`, `${id} answers`]);
          expect(await t.documents.get('d-1')).toMatchObject({
            title: `${id} doc`, text: `${id} body text`, externalRef: 'CRM-1042',
          });
        });
      });

    it.each(isolations)('fails a %s value copied to another row, column or tenant (DECRYPT_FAILED)',
      async (isolation) => {
        const id = tenantOf(isolation);
        const other = `other-${isolation}`;
        const title = await tenancy.withTenant(id, (t) => raw(t, 'conversations', 'title', 'c-1'));
        const copyInto = async (tenant: string, table: string, column: string, row: string,
          read: (t: TenantScope) => Promise<unknown>): Promise<void> => {
          const before = await tenancy.withTenant(tenant, (t) => raw(t, table, column, row));
          await tenancy.withTenant(tenant, (t) => setRaw(t, table, column, row, title));
          const err = await expectCode(tenancy.withTenant(tenant, read), 'DECRYPT_FAILED');
          expect(err.message).toMatch(/^an encrypted value failed its integrity check: /);
          expect(err.message).not.toContain(id);
          await tenancy.withTenant(tenant, (t) => setRaw(t, table, column, row, before));
        };
        await copyInto(id, 'conversations', 'title', 'c-2', (t) => t.conversations.get('c-2'));
        await copyInto(id, 'documents', 'title', 'd-1', (t) => t.documents.get('d-1'));
        await copyInto(id, 'documents', 'text', 'd-1', (t) => t.documents.get('d-1'));
        await copyInto(other, 'conversations', 'title', 'c-1', (t) => t.conversations.get('c-1'));
        // Put back, everything reads again.
        expect((await tenancy.withTenant(other, (t) => t.conversations.get('c-1')))?.title)
          .toBe(`${other} first title`);
        expect((await tenancy.withTenant(id, (t) => t.documents.get('d-1')))?.text)
          .toBe(`${id} body text`);
      });

    it.each(isolations)('finds %s documents by external reference through a per-tenant index',
      async (isolation) => {
        const id = tenantOf(isolation);
        const indexOf = (tenant: string) => tenancy.withTenant(tenant, async (t) =>
          (await t.session.query<{ i: Uint8Array }>(`SELECT external_ref_index AS i FROM
            ${t.session.table('documents')} WHERE id = 'd-1'`)).rows[0]?.i);
        const mine = Buffer.from(await indexOf(id) as Uint8Array);
        const theirs = Buffer.from(await indexOf(`other-${isolation}`) as Uint8Array);
        expect(mine).toHaveLength(32);
        expect(mine.equals(theirs)).toBe(false);
        await tenancy.withTenant(id, async (t) => {
          const found = await t.documents.findByExternalRef('CRM-1042');
          expect(found.items.map((d) => [d.id, d.externalRef])).toEqual([['d-1', 'CRM-1042']]);
          expect((await t.documents.findByExternalRef('CRM-7')).items.map((d) => d.id))
            .toEqual(['d-2']);
          expect((await t.documents.findByExternalRef('CRM-104')).items).toEqual([]);
          await t.documents.update('d-2', { externalRef: 'CRM-1042' });
          expect((await t.documents.findByExternalRef('CRM-1042')).items.map((d) => d.id))
            .toEqual(['d-1', 'd-2']);
          await t.documents.update('d-2', { externalRef: 'CRM-7' });
        });
      });

    it('seals a declared field of a library user\'s own table, bound to its row', async () => {
      for (const isolation of isolations) {
        const id = tenantOf(isolation);
        await tenancy.withTenant(id, async (t) => {
          for (const row of [1, 2]) {
            await t.session.query(`INSERT INTO ${t.session.table('notes')} (id, body)
              VALUES ($1, $2)`, [row, t.crypto.seal('notes', 'body', row, `${id} note ${row}`)]);
          }
          const sealed = await raw(t, 'notes', 'body', 1);
          expect(sealed.includes(Buffer.from('note'))).toBe(false);
          expect(t.crypto.open('notes', 'body', 1, sealed)).toBe(`${id} note 1`);
          await expectCode(() => t.crypto.open('notes', 'body', 2, sealed), 'DECRYPT_FAILED');
          await expectCode(() => t.crypto.seal('notes', 'title', 1, 'x'), 'FIELD_NOT_ENCRYPTED');
          await expectCode(() => t.crypto.seal('people', 'body', 1, 'x'), 'FIELD_NOT_ENCRYPTED');
        });
      }
      await expectCode(Tenancy.open(deployment.config, {
        encryptedFields: [{ table: 'notes', idColumn: 'id', columns: ['id'] }],
      }), 'CONFIG_INVALID');
      await expectCode(Tenancy.open(deployment.config, {
        encryptedFields: [{ table: 'documents', idColumn: 'id', columns: ['x'] }],
      }), 'CONFIG_INVALID');
    });

    it('makes one unwrap for concurrent sessions of a cold tenant', async () => {
      const id = tenantOf('schema');
      await tenancy.tenants.suspend(id);
      await tenancy.tenants.resume(id);
      const before = provider.unwraps;
      const titles = await Promise.all(Array.from({ length: 12 }, () =>
        tenancy.withTenant(id, async (t) => (await t.conversations.get('c-1'))?.title)));
      expect(new Set(titles)).toEqual(new Set([`${id} first title`]));
      expect(provider.unwraps - before).toBe(1);
      // Served from the cache now; after the maximum age (1 s here) it is unwrapped again.
      await tenancy.withTenant(id, (t) => t.conversations.get('c-1'));
      expect(provider.unwraps - before).toBe(1);
      await sleep(1100);
      await tenancy.withTenant(id, (t) => t.conversations.get('c-1'));
      expect(provider.unwraps - before).toBe(2);
    });

    it('empties the cache at once when a tenant is suspended', async () => {
      const id = tenantOf('row');
      await tenancy.withTenant(id, (t) => t.conversations.get('c-1'));
      const before = provider.unwraps;
      await tenancy.withTenant(id, (t) => t.conversations.get('c-1'));
      expect(provider.unwraps).toBe(before);
      await tenancy.tenants.suspend(id);
      await expectCode(tenancy.withTenant(id, async () => 'ran'), 'TENANT_SUSPENDED');
      await tenancy.tenants.resume(id);
      await tenancy.withTenant(id, (t) => t.conversations.get('c-1'));
      expect(provider.unwraps).toBe(before + 1);
    });

    it.each(isolations)('rotates %s keys, re-encrypts resumably, then retires the old version',
      async (isolation) => {
        const id = tenantOf(isolation);
        const start = await tenancy.keys.status(id);
        expect(start.activeVersion).toBe(1);
        const values = start.valuesByVersion['1'] as number;
        // 2 titles + 2 messages + 2 documents × 3 sealed columns + 2 notes.
        expect(start.valuesByVersion).toEqual({ 1: 12 });
        expect(values).toBe(12);
        const rotated = await tenancy.keys.rotate(id);
        expect(rotated.activeVersion).toBe(2);
        expect(rotated.dataKeys.map((k) => [k.version, k.state]))
          .toEqual([[1, 'previous'], [2, 'active']]);
        await tenancy.withTenant(id, async (t) => {
          await t.conversations.create({ id: 'c-3', title: 'after rotation' });
          expect((await raw(t, 'conversations', 'title', 'c-3')).readUInt32BE(19)).toBe(2);
          // Old versions still open.
          expect((await t.conversations.get('c-1'))?.title).toBe(`${id} first title`);
        });
        expect((await tenancy.keys.status(id)).valuesByVersion).toEqual({ 1: 12, 2: 1 });
        const refused = await expectCode(tenancy.keys.retire(id, 1), 'KEY_VERSION_IN_USE');
        expect(refused.message).toContain('1');
        await expectCode(tenancy.keys.retire(id, 2), 'KEY_VERSION_IN_USE');
        await expectCode(tenancy.keys.retire(id, 9), 'KEY_VERSION_UNKNOWN');

        // A run stopped after its first batch resumes from its checkpoint.
        const stop = new AbortController();
        const seen: number[] = [];
        await expect(tenancy.keys.reencrypt(id, {
          batchSize: 1, signal: stop.signal,
          onProgress: (p) => { seen.push(p.done); stop.abort(); },
        })).rejects.toThrow();
        expect(seen).toEqual([1]);
        const stopped = await tenancy.keys.status(id);
        expect(stopped.reencrypt).toMatchObject({ targetVersion: 2, done: 1, finishedAt: null });
        const progress: number[] = [];
        const done = await tenancy.keys.reencrypt(id, {
          batchSize: 2, onProgress: (p) => progress.push(p.done),
        });
        expect(done).toMatchObject({ tenantId: id, targetVersion: 2, finished: true,
          resumed: true, rewritten: 12, table: null });
        expect(done.done).toBe(done.total);
        expect(progress.at(-1)).toBe(done.total);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
        const after = await tenancy.keys.status(id);
        expect(after.valuesByVersion).toEqual({ 2: 13 });
        expect(after.reencrypt?.finishedAt).not.toBeNull();
        // A second run finds nothing to do.
        expect((await tenancy.keys.reencrypt(id)).rewritten).toBe(0);

        // Other processes may have cached version 1 as active for up to the cache age (1 s).
        await sleep(1100);
        const retired = await tenancy.keys.retire(id, 1);
        expect(retired.dataKeys.map((k) => [k.version, k.state]))
          .toEqual([[1, 'retired'], [2, 'active']]);
        await tenancy.withTenant(id, async (t) => {
          expect((await t.conversations.get('c-1'))?.messages.map((m) => m.content))
            .toEqual([`${id} says hello`, `${id} answers`]);
          expect((await t.documents.get('d-1'))?.text).toBe(`${id} body text`);
          expect(t.crypto.open('notes', 'body', 2, await raw(t, 'notes', 'body', 2)))
            .toBe(`${id} note 2`);
        });
      });

    it('refuses to retire a version while a newer one is younger than the cache age',
      async () => {
        const id = `other-row`;
        await tenancy.keys.rotate(id);
        await tenancy.keys.reencrypt(id);
        const err = await expectCode(tenancy.keys.retire(id, 1), 'KEY_VERSION_IN_USE');
        expect(err.message).toMatch(/may still be sealed under by other processes until .*; retry then: it cannot be retired yet/);
        await sleep(1100);
        expect((await tenancy.keys.retire(id, 1)).dataKeys[0]?.state).toBe('retired');
      });

    it('rotates the root key by rewrapping master keys without touching data', async () => {
      const id = tenantOf('database');
      const envelope = await tenancy.withTenant(id, (t) => raw(t, 'documents', 'text', 'd-1'));
      const before = await tenancy.keys.status(id);
      const [rotation] = await tenancy.keys.rotateRoot();
      expect(rotation?.region).toBe('local');
      expect(rotation?.rootKeyId).not.toBe(before.rootKeyId);
      expect(rotation?.rewrapped).toBe(isolations.length * 2);
      const after = await tenancy.keys.status(id);
      expect(after.rootKeyId).toBe(rotation?.rootKeyId);
      expect(after.rewrappedAt).not.toBeNull();
      expect(after.masterKeyId).toBe(before.masterKeyId);
      expect(after.dataKeys).toEqual(before.dataKeys);
      // Nothing sealed was rewritten, and it still opens with keys unwrapped under the new root.
      await sleep(1100);
      const unwraps = provider.unwraps;
      await tenancy.withTenant(id, async (t) => {
        expect((await raw(t, 'documents', 'text', 'd-1')).equals(envelope)).toBe(true);
        expect((await t.documents.get('d-1'))?.text).toBe(`${id} body text`);
      });
      expect(provider.unwraps).toBe(unwraps + 1);
      // Run again: nothing is left under an older root.
      expect((await tenancy.keys.rotateRoot({ region: 'local' }))[0]?.rewrapped)
        .toBe(isolations.length * 2);
    });

    it.each(isolations)('shreds a %s tenant: a row copied out earlier never opens again',
      async (isolation) => {
        const id = `other-${isolation}`;
        const copied = await tenancy.withTenant(id, (t) => raw(t, 'conversations', 'title', 'c-1'));
        const place = { table: 'conversations', column: 'title', rowId: 'c-1' };
        expect(await tenancy.keys.open(id, place, copied)).toBe(`${id} first title`);
        const status = await tenancy.keys.status(id);
        const record = await tenancy.tenants.delete(id, { shred: true });
        expect(record).toMatchObject({ tenantId: id, region: 'local', shredded: true });
        expect(record.deletedAt).toBeInstanceOf(Date);
        expect(record.keyIds).toEqual([status.masterKeyId,
          ...status.dataKeys.map((k) => k.keyId), ...status.indexKeys.map((k) => k.keyId)]);
        expect(record.keyIds[0]).toMatch(/^mk-[0-9a-f]{32}$/);
        await expectCode(tenancy.keys.open(id, place, copied), 'KEYS_DESTROYED');
        await expectCode(tenancy.keys.status(id), 'KEYS_DESTROYED');
        await expectCode(tenancy.withTenant(id, async () => 'ran'), 'TENANT_NOT_FOUND');
        expect((await tenancy.tenants.get(id)).status).toBe('deleted');
        // Shredding again returns the same record.
        const again = await tenancy.tenants.delete(id, { shred: true });
        expect(again.keyIds).toEqual(record.keyIds);
        // Another tenant is untouched.
        expect((await tenancy.withTenant(tenantOf(isolation), (t) =>
          t.conversations.get('c-1')))?.title).toBe(`${tenantOf(isolation)} first title`);
      });

    it.skipIf(kind !== 'pg')('reads a value sealed under a version another process rotated to',
      async () => {
        // Two processes on one server, each caching keys for ten minutes.
        const config = { ...deployment.config, keyCache: { maxTenants: 100, maxAgeSeconds: 600 } };
        const options = {
          migrations: [...builtinMigrations, notesMigration],
          encryptedFields: [{ table: 'notes', idColumn: 'id', columns: ['body'] }],
        };
        const here = await Tenancy.open(config, options);
        const elsewhere = await Tenancy.open(config, options);
        try {
          const id = tenantOf('row');
          await here.withTenant(id, (t) => t.conversations.get('c-1'));
          const rotated = await elsewhere.keys.rotate(id);
          await elsewhere.withTenant(id, (t) => t.conversations.create({ id: 'c-elsewhere',
            title: 'sealed elsewhere' }));
          // The cached keys lack the new version: that read fails once and drops them...
          const err = await expectCode(here.withTenant(id, (t) => t.conversations.get(
            'c-elsewhere')), 'DECRYPT_FAILED');
          expect(err.message).toContain(`key version ${rotated.activeVersion} is newer than ` +
            'the keys loaded');
          // ...so the next session loads the keyring again and reads it.
          expect((await here.withTenant(id, (t) => t.conversations.get('c-elsewhere')))?.title)
            .toBe('sealed elsewhere');
        } finally {
          await here.close();
          await elsewhere.close();
        }
      });

    it('shreds a tenant only after its running session ends, and then its keys are gone',
      async () => {
        const { tenant } = await tenancy.tenants.create({ id: 'held-row', isolation: 'row' });
        const order: string[] = [];
        let inSession: () => void = () => {};
        const started = new Promise<void>((done) => { inSession = done; });
        const place = { table: 'notes', column: 'body', rowId: '1' };
        let sealed: Uint8Array | undefined;
        const session = tenancy.withTenant(tenant.id, async (t) => {
          sealed = t.crypto.seal('notes', 'body', 1, 'held');
          inSession();
          await new Promise((resolve) => setTimeout(resolve, 300));
          const opened = t.crypto.open('notes', 'body', 1, sealed);
          order.push('session ended');
          return opened;
        });
        await started;
        const shred = tenancy.tenants.delete(tenant.id, { shred: true })
          .then((record) => { order.push('shredded'); return record; });
        // The session keeps its keys to its end; the shred waits it out.
        expect(await session).toBe('held');
        const record = await shred;
        expect(order).toEqual(['session ended', 'shredded']);
        expect(record.shredded).toBe(true);
        await expectCode(tenancy.keys.open(tenant.id, place, sealed as Uint8Array),
          'KEYS_DESTROYED');
        await expectCode(tenancy.withTenant(tenant.id, async () => 'ran'), 'TENANT_NOT_FOUND');
      });
  });
}

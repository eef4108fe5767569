// Backups per driver, blob store and isolation: round trip, other tenants untouched, clone,
// refusals, tampering, shredded tenants, pruning, archives of many chunks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy, type ConfigInput, type Isolation } from '../../src/index.ts';
import { manifestKey, dataKey } from '../../src/backup/archive-manifest.ts';
import { expectCode } from '../core/harness.ts';
import {
  drivers, freshDeployment, isolations, serverAvailable, tenantName, type TestDeployment,
} from '../support/drivers.ts';
import { picture, seedTenant, startS3, storeKinds, type S3Server } from './support.ts';

const pgAvailable = await serverAvailable();

/** The next isolation in the list, so a clone also changes isolation. */
function another(isolation: Isolation): Isolation {
  return isolations[(isolations.indexOf(isolation) + 1) % isolations.length] as Isolation;
}

for (const kind of drivers) {
  for (const store of storeKinds) {
    describe.skipIf(kind === 'pg' && !pgAvailable)(`backups on ${kind}, ${store} store`, () => {
      let s3: S3Server | undefined;
      let deployment: TestDeployment | undefined;
      let tenancy: Tenancy;

      beforeAll(async () => {
        if (store === 's3') s3 = await startS3();
        deployment = await freshDeployment(kind);
        const local = deployment.config.regions?.local ?? { database: 'embedded' };
        const config: ConfigInput = {
          ...deployment.config,
          regions: { local: { ...local, ...(s3 === undefined ? {} : { backups: s3.backups() }) } },
        };
        tenancy = await Tenancy.open(config);
      });
      afterAll(async () => {
        await tenancy?.close();
        await deployment?.cleanup();
        await s3?.close();
      });

      it.each(isolations)('restores %s isolation exactly, touching no other tenant',
        async (iso) => {
        const owner = tenantName(`own-${iso.slice(0, 3)}`);
        const other = tenantName(`oth-${iso.slice(0, 3)}`);
        await tenancy.tenants.create({ id: owner, isolation: iso });
        await tenancy.tenants.create({ id: other, isolation: iso });
        await seedTenant(tenancy, owner);
        await seedTenant(tenancy, other);
        const before = await picture(tenancy, owner);
        const othersBefore = await picture(tenancy, other);

        const info = await tenancy.backups.create(owner);
        expect(info).toMatchObject({ tenantId: owner, isolation: iso, region: 'local', rows: 48 });
        expect(info.tables.find((t) => t.name === 'messages')?.rows).toBe(24);
        expect((await tenancy.backups.list(owner)).map((b) => b.id)).toEqual([info.id]);
        // The same size as the listing shows: data and manifest.
        expect(await tenancy.backups.verify(owner, info.id))
          .toMatchObject({ ok: true, rows: 48, bytes: info.bytes });

        await tenancy.withTenant(owner, async (t) => {
          await t.conversations.delete('c-1');
          await t.documents.delete('d-2');
          await t.conversations.create({ id: 'c-new', title: 'after the backup', messages: [] });
        });
        expect(await picture(tenancy, owner)).not.toEqual(before);

        const restored = await tenancy.backups.restore(owner, info.id);
        expect(restored.rows).toBe(48);
        expect(await picture(tenancy, owner)).toEqual(before);
        expect(await picture(tenancy, other)).toEqual(othersBefore);
        // Restored envelopes are the stored ones: they still open under the tenant's keys.
        const chat = await tenancy.withTenant(owner, (t) => t.conversations.get('c-1'));
        expect(chat?.messages.map((m) => m.content)).toEqual([
          `${owner} asks 1: it's "quoted", back\\slash, ünïcode`, `${owner} answers 1`,
        ]);

        const copy = tenantName(`cl-${iso.slice(0, 3)}`);
        const cloned = await tenancy.backups.clone(owner, info.id,
          { to: copy, isolation: another(iso) });
        expect(cloned).toMatchObject({ tenantId: copy, from: owner, rows: 48 });
        expect(cloned.tenant).toMatchObject({ isolation: another(iso), status: 'active' });
        const seen = await tenancy.withTenant(copy, async (t) => ({
          chat: (await t.conversations.get('c-3'))?.title,
          ref: (await t.documents.findByExternalRef(`REF-${owner}`)).items.map((d) => d.id),
        }));
        expect(seen).toEqual({ chat: `${owner} chat 3`, ref: ['d-0'] });
        // The clone's envelopes were sealed again under its own keys.
        const title = (id: string) => tenancy.withTenant(id, async ({ session }) =>
          Buffer.from((await session.query<{ title: Uint8Array }>(
            `SELECT title FROM ${session.table('conversations')} WHERE id = 'c-0'`)).rows[0]
            ?.title ?? []).toString('hex'));
        const [sourceTitle, copyTitle] = [await title(owner), await title(copy)];
        expect(copyTitle.length).toBeGreaterThan(100);
        expect(copyTitle).not.toBe(sourceTitle);
        expect(await picture(tenancy, owner)).toEqual(before);
        expect(await picture(tenancy, other)).toEqual(othersBefore);
      });

      it("refuses an archive of another tenant unless it is a clone", async () => {
        const a = tenantName('mis-a');
        const b = tenantName('mis-b');
        await tenancy.tenants.create({ id: a, isolation: 'schema' });
        await tenancy.tenants.create({ id: b, isolation: 'schema' });
        await seedTenant(tenancy, a, 2);
        await seedTenant(tenancy, b, 3);
        const bBefore = await picture(tenancy, b);
        const { id } = await tenancy.backups.create(a);
        await expectCode(tenancy.backups.restore(b, id, { from: a }), 'BACKUP_TENANT_MISMATCH');
        // The same archive copied under b's prefix still names a.
        const blobs = await tenancy.backups.store('local');
        await blobs.put(dataKey(b, id), await blobs.get(dataKey(a, id)));
        await blobs.put(manifestKey(b, id), await blobs.get(manifestKey(a, id)));
        await expectCode(tenancy.backups.restore(b, id), 'BACKUP_TENANT_MISMATCH');
        await expectCode(tenancy.backups.restore(b, '20260101t000000z-00000000'),
          'BACKUP_NOT_FOUND');
        await expectCode(tenancy.backups.restore(b, '../../x'), 'BACKUP_ID_INVALID');
        expect(await picture(tenancy, b)).toEqual(bBefore);
      });

      it('finds a flipped byte and an edited manifest, and restores neither', async () => {
        const t = tenantName('tamper');
        await tenancy.tenants.create({ id: t, isolation: 'row' });
        await seedTenant(tenancy, t, 3);
        const { id } = await tenancy.backups.create(t);
        await seedTenant(tenancy, t, 4).catch(() => {});
        const current = await picture(tenancy, t);
        const blobs = await tenancy.backups.store('local');
        const data = await blobs.get(dataKey(t, id));
        const manifest = await blobs.get(manifestKey(t, id));

        const flipped = Buffer.from(data);
        const at = Math.floor(flipped.length / 2);
        flipped[at] = (flipped[at] as number) ^ 0x01;
        await blobs.put(dataKey(t, id), flipped);
        await expectCode(tenancy.backups.verify(t, id), 'BACKUP_CORRUPT');
        await expectCode(tenancy.backups.restore(t, id), 'BACKUP_CORRUPT');

        await blobs.put(dataKey(t, id), data);
        const edited = JSON.parse(manifest.toString('utf8')) as { rows: number;
          tables: { rows: number }[] };
        edited.rows -= 1;
        (edited.tables[0] as { rows: number }).rows -= 1;
        await blobs.put(manifestKey(t, id), Buffer.from(JSON.stringify(edited)));
        const err = await expectCode(tenancy.backups.verify(t, id), 'BACKUP_CORRUPT');
        expect(err.message).toContain('altered');
        await expectCode(tenancy.backups.restore(t, id), 'BACKUP_CORRUPT');
        expect(await picture(tenancy, t)).toEqual(current);

        await blobs.put(manifestKey(t, id), manifest);
        expect(await tenancy.backups.verify(t, id)).toMatchObject({ ok: true });
      });

      it("cannot read a shredded tenant's archive, and says why", async () => {
        const t = tenantName('shred');
        await tenancy.tenants.create({ id: t, isolation: 'schema' });
        await seedTenant(tenancy, t, 2);
        const { id } = await tenancy.backups.create(t);
        await tenancy.tenants.delete(t, { shred: true });
        const err = await expectCode(tenancy.backups.verify(t, id), 'BACKUP_KEYS_DESTROYED');
        expect(err.message).toMatch(/keys were destroyed/);
        await expectCode(tenancy.backups.restore(t, id), 'BACKUP_KEYS_DESTROYED');
        await expectCode(tenancy.backups.clone(t, id, { to: tenantName('heir') }),
          'BACKUP_KEYS_DESTROYED');
        // The archive is still listed: only reading it is impossible.
        expect((await tenancy.backups.list(t)).map((b) => b.id)).toEqual([id]);
      });

      it('streams a large tenant through many chunks and back', async () => {
        const t = tenantName('large');
        await tenancy.tenants.create({ id: t, isolation: 'row' });
        await tenancy.withTenant(t, async (s) => {
          for (let n = 0; n < 300; n += 1) {
            await s.documents.create({ id: `big-${n}`, title: `big ${n}`,
              text: `${n} `.repeat(2000) });
          }
        });
        const before = await picture(tenancy, t);
        const progress: number[] = [];
        const info = await tenancy.backups.create(t, {
          chunkBytes: 64 * 1024, compression: 'brotli',
          onProgress: (p) => progress.push(p.rows),
        });
        const manifest = JSON.parse((await (await tenancy.backups.store('local'))
          .get(manifestKey(t, info.id))).toString('utf8')) as { chunks: unknown[] };
        expect(manifest.chunks.length).toBeGreaterThan(20);
        expect(progress.at(-1)).toBe(300);
        await tenancy.withTenant(t, (s) => s.documents.delete('big-7'));
        await tenancy.backups.restore(t, info.id);
        expect(await picture(tenancy, t)).toEqual(before);
      });

      it('prunes all but the newest archives', async () => {
        const t = tenantName('prune');
        await tenancy.tenants.create({ id: t, isolation: 'row' });
        const ids: string[] = [];
        for (let n = 0; n < 3; n += 1) ids.push((await tenancy.backups.create(t)).id);
        const pruned = await tenancy.backups.prune(t, { keep: 1 });
        expect(pruned.kept).toEqual([ids[2]]);
        expect([...pruned.deleted].sort()).toEqual([ids[0], ids[1]].sort());
        expect((await tenancy.backups.list(t)).map((b) => b.id)).toEqual([ids[2]]);
        const left = await (await tenancy.backups.store('local')).list(`tenants/${t}/`);
        expect(left.every((blob) => blob.key.includes(ids[2] as string))).toBe(true);
        expect((await tenancy.backups.prune(t, { olderThanMillis: 3_600_000 })).deleted)
          .toEqual([]);
      });
    });
  }
}

// Crash safety: a child process running a backup or a restore is killed with SIGKILL at several
// points; no killed backup lists or verifies as complete, and no killed restore loses or mixes
// the tenant's data.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy, type ConfigInput } from '../../src/index.ts';
import { expectCode } from '../core/harness.ts';
import { killChildWhen } from '../support/kill-child.ts';
import {
  freshDeployment, serverAvailable, tenantName, type TestDeployment,
} from '../support/drivers.ts';
import { picture, startS3, storeKinds, type S3Server } from './support.ts';

const pgAvailable = await serverAvailable();
const child = resolve(process.cwd(), 'test/backup/crash-child.ts');

/** Runs the child until `stop` says so for a line of its output, then kills it with SIGKILL. */
const runUntil = (args: readonly string[], stop: (line: string) => boolean): Promise<string[]> =>
  killChildWhen(child, args, stop);

/** Kill points by progress: the first rows, half way, the last batch. */
const points: readonly [string, (rows: number, total: number) => boolean][] = [
  ['the first batch', (rows) => rows > 0],
  ['half way', (rows, total) => rows >= total / 2],
  ['the last batch', (rows, total) => rows >= total],
];

function progressed(line: string, at: (rows: number, total: number) => boolean): boolean {
  const match = /^progress (\d+) (\d+)$/.exec(line);
  return match !== null && at(Number(match[1]), Number(match[2]));
}

for (const store of storeKinds) {
  describe.skipIf(!pgAvailable)(`killed backups and restores (pg, ${store} store)`, () => {
    let s3: S3Server | undefined;
    let deployment: TestDeployment;
    let tenancy: Tenancy;
    let configPath: string;
    const tenant = tenantName('crash');
    const neighbour = tenantName('near');

    beforeAll(async () => {
      if (store === 's3') s3 = await startS3();
      deployment = await freshDeployment('pg');
      const local = deployment.config.regions?.local ?? { database: 'embedded' };
      const config: ConfigInput = {
        ...deployment.config,
        regions: { local: { ...local, ...(s3 === undefined ? {} : { backups: s3.backups() }) } },
      };
      configPath = join(deployment.dataDir, 'config.json');
      await writeFile(configPath, JSON.stringify(config));
      tenancy = await Tenancy.open(config);
      for (const id of [tenant, neighbour]) {
        await tenancy.tenants.create({ id, isolation: 'row' });
        await tenancy.withTenant(id, async (t) => {
          for (let n = 0; n < 120; n += 1) {
            await t.conversations.create({ id: `c-${n}`, title: `${id} ${n}`, messages: [
              { role: 'user', content: `${id} says ${n} `.repeat(40) }] });
          }
        });
      }
    });
    afterAll(async () => {
      await tenancy?.close();
      await deployment?.cleanup();
      await s3?.close();
    });

    it.each(points)('a backup killed at %s leaves no complete-looking archive', async (_, at) => {
      const listed = (await tenancy.backups.list(tenant)).map((b) => b.id);
      await runUntil([configPath, 'backup', tenant], (line) => progressed(line, at));
      expect((await tenancy.backups.list(tenant)).map((b) => b.id)).toEqual(listed);
      for (const { id } of await tenancy.backups.unfinished(tenant)) {
        await expectCode(tenancy.backups.verify(tenant, id), 'BACKUP_NOT_FOUND');
        await expectCode(tenancy.backups.restore(tenant, id), 'BACKUP_NOT_FOUND');
      }
    });

    it('a backup killed just before its manifest lists as unfinished only', async () => {
      const listed = (await tenancy.backups.list(tenant)).map((b) => b.id);
      await runUntil([configPath, 'backup', tenant, '', 'hang-before-manifest'],
        (line) => line === 'manifest');
      expect((await tenancy.backups.list(tenant)).map((b) => b.id)).toEqual(listed);
      const unfinished = await tenancy.backups.unfinished(tenant);
      expect(unfinished.length).toBeGreaterThan(0);
      for (const { id } of unfinished) {
        await expectCode(tenancy.backups.verify(tenant, id), 'BACKUP_NOT_FOUND');
      }
    });

    it.each(points)('a restore killed at %s leaves the old data intact and usable',
      async (_, at) => {
        const { id } = await tenancy.backups.create(tenant, { chunkBytes: 16 * 1024 });
        const archived = await picture(tenancy, tenant);
        await tenancy.withTenant(tenant, async (t) => {
          await t.conversations.delete('c-3');
          await t.conversations.create({ id: `late-${Date.now()}`, title: 'after', messages: [] });
        });
        const before = await picture(tenancy, tenant);
        const neighbourBefore = await picture(tenancy, neighbour);
        await runUntil([configPath, 'restore', tenant, id], (line) => progressed(line, at));
        expect(await picture(tenancy, tenant)).toEqual(before);
        expect(await picture(tenancy, neighbour)).toEqual(neighbourBefore);
        // Usable: it takes writes, and a restore that runs to its end still works.
        await tenancy.withTenant(tenant, (t) => t.conversations.create({ title: 'still here' }));
        await tenancy.backups.restore(tenant, id);
        expect(await picture(tenancy, tenant)).toEqual(archived);
      });
  });
}

// Both blob stores behind one contract: atomic puts, streamed (multipart) writes, ranges,
// listings that never show unfinished writes, prefix deletes, and keys that cannot escape.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/backup/blob-store.ts';
import { createBlobStore } from '../../src/backup/stores/create-store.ts';
import { parseConfig } from '../../src/index.ts';
import { expectCode } from '../core/harness.ts';
import { startS3, storeKinds, type S3Server } from './support.ts';

for (const kind of storeKinds) {
  describe(`${kind} blob store`, () => {
    let s3: S3Server | undefined;
    let folder: string;
    let store: BlobStore;

    beforeAll(async () => {
      folder = await mkdtemp(join(tmpdir(), 'tenancy-blobs-'));
      if (kind === 's3') s3 = await startS3();
      const config = parseConfig({
        dataDir: folder,
        regions: { local: { database: 'embedded', ...(s3 === undefined ? {} : {
          backups: s3.backups('deploy/') }) } },
      });
      store = await createBlobStore(config.regions.local?.backups ?? { store: 'folder' },
        folder, 'local');
    });
    afterAll(async () => {
      await store?.close();
      await s3?.close();
      await rm(folder, { recursive: true, force: true });
    });

    it('puts, gets, reads ranges and lists by prefix', async () => {
      await store.put('tenants/acme/backups/b1/manifest.json', Buffer.from('{"a":1}'));
      await store.put('tenants/acme/backups/b1/data.bin', Buffer.from('0123456789'));
      await store.put('tenants/acme-eu/backups/b2/data.bin', Buffer.from('x'));
      expect((await store.get('tenants/acme/backups/b1/manifest.json')).toString()).toBe('{"a":1}');
      expect((await store.getRange('tenants/acme/backups/b1/data.bin', 3, 4)).toString())
        .toBe('3456');
      await expectCode(store.getRange('tenants/acme/backups/b1/data.bin', 8, 4), 'BACKUP_CORRUPT');
      await expectCode(store.get('tenants/acme/backups/b9/data.bin'), 'BACKUP_NOT_FOUND');
      const listed = await store.list('tenants/acme/');
      expect(listed.map((b) => [b.key, b.size])).toEqual([
        ['tenants/acme/backups/b1/data.bin', 10],
        ['tenants/acme/backups/b1/manifest.json', 7],
      ]);
      expect(await store.deletePrefix('tenants/acme/')).toBe(2);
      expect(await store.list('tenants/acme/')).toEqual([]);
      expect((await store.list('tenants/acme-eu/')).map((b) => b.key))
        .toEqual(['tenants/acme-eu/backups/b2/data.bin']);
    });

    it('streams a large object in parts that appears only when committed', async () => {
      // 12 MiB in 1 MiB writes: three parts of a multipart upload on S3 (parts of 5 MiB).
      const part = randomBytes(1024 * 1024);
      const writer = await store.writer('tenants/big/backups/b1/data.bin');
      for (let n = 0; n < 12; n += 1) {
        part[0] = n;
        await writer.write(Buffer.from(part));
      }
      expect(await store.list('tenants/big/')).toEqual([]);
      await writer.commit();
      const [blob] = await store.list('tenants/big/');
      expect(blob?.size).toBe(12 * 1024 * 1024);
      const eleventh = await store.getRange('tenants/big/backups/b1/data.bin', 11 * 1024 * 1024,
        16);
      expect(eleventh[0]).toBe(11);
      expect(eleventh.subarray(1).equals(part.subarray(1, 16))).toBe(true);
    });

    it('leaves nothing behind a write that was aborted', async () => {
      const writer = await store.writer('tenants/gone/backups/b1/data.bin');
      await writer.write(randomBytes(6 * 1024 * 1024));
      await writer.abort();
      expect(await store.list('tenants/gone/')).toEqual([]);
      if (kind === 'folder') {
        const left = await readdir(join(folder, 'backups', 'local', 'tenants', 'gone', 'backups',
          'b1'));
        expect(left).toEqual([]);
      }
    });

    it('refuses keys that could leave the store or name a temp file', async () => {
      for (const key of ['../x', 'tenants/../../x', '/abs', 'tenants/.hidden', 'a//b', '']) {
        await expect(store.put(key, Buffer.from('x'))).rejects.toThrow(/refused a blob key/);
      }
    });
  });
}

describe('backup store config', () => {
  it('defaults to a folder under the data folder and never prints an S3 secret', () => {
    const config = parseConfig({ regions: {
      eu: { database: 'embedded' },
      us: { database: 'embedded', backups: { store: 's3', bucket: 'tenancy-us', awsRegion:
        'us-east-1', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'not-for-logs' } },
    } });
    expect(config.regions.eu?.backups).toEqual({ store: 'folder' });
    const printed = JSON.stringify(config);
    expect(printed).not.toContain('not-for-logs');
    expect(printed).toContain('"secretAccessKey":"[redacted]"');
  });
});

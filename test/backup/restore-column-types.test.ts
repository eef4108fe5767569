// Users' own tables (the `migrations` option) go through every load style of a restore: arrays,
// enums, numerics, intervals, jsonb with escapes, bytea, infinities and a 3 MB value must come
// back byte for byte, over archives cut into many small chunks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinMigrations, type Migration, type Tenancy } from '../../src/index.ts';
import { isolations, serverAvailable, tenantName } from '../support/drivers.ts';
import { loadStyles, openForStyle, type Opened } from './load-styles.ts';

const pgAvailable = await serverAvailable();

const gadgets: Migration = {
  version: 2,
  name: 'gadgets',
  up: ({ table, secure }) => `
CREATE TYPE ${table('mood')} AS ENUM ('sad', 'ok', 'hap"py\\');
CREATE TABLE ${table('gadgets')} (
  tenant_id text NOT NULL DEFAULT tenancy.current_tenant(),
  id text NOT NULL,
  tags text[],
  price numeric,
  wait interval,
  ok boolean,
  doc jsonb,
  mood ${table('mood')},
  raw bytea,
  at timestamptz,
  big text,
  PRIMARY KEY (tenant_id, id)
);
${secure('gadgets')}`,
};

const big = `${'x'.repeat(1_500_000)}\t\\.\n\\N\r${'é'.repeat(500_000)}\\`;

async function seed(tenancy: Tenancy, id: string): Promise<void> {
  await tenancy.withTenant(id, async ({ session }) => {
    const t = session.table('gadgets');
    await session.query(`INSERT INTO ${t} (id, tags, price, wait, ok, doc, mood, raw, at, big)
      VALUES
      ('g1', ARRAY['tab\there', E'line\\nbreak', 'back\\slash', '\\N', 'quo"te', NULL, '',
        '{brace}', 'com,ma', '\\.'], 'NaN', '1 year 2 mons -3 days 04:05:06.789', true,
        $1::jsonb, 'hap"py\\', '\\x00ff5c0a090d', 'infinity', $2),
      ('g2', '{}', '-0.00001000', '-00:00:00.000001', false, '[]', 'sad', '\\x', '-infinity',
        ''),
      ('g3', NULL, '123456789012345678901234567890.123456789', NULL, NULL, 'null', NULL, NULL,
        '2024-02-29 23:59:59.999999+13', NULL),
      ('g\t4\\', ARRAY[NULL]::text[], '1e-30', '0', NULL, '"\\\\N"', 'ok', '\\x5c4e', NULL,
        $3)`,
    [JSON.stringify({ a: 'tab\t nl\n cr\r bs\\ q" \\N \\.', u: '\u00e9\u2028', n: [1.5, -0] }),
      big, '\\N']);
    for (let n = 0; n < 200; n += 1) {
      await session.query(`INSERT INTO ${t} (id, tags, big) VALUES ($1, $2, $3)`,
        [`row-${n}`, [`v\t${n}`, `w\\${n}`], `line ${n}\nnext\\N`]);
    }
  });
}

async function gadgetsPicture(tenancy: Tenancy, id: string): Promise<string[]> {
  return tenancy.withTenant(id, async ({ session }) => (await session.query<{ r: string }>(
    `SELECT t::text AS r FROM ${session.table('gadgets')} t ORDER BY t.id`)).rows
    .map((row) => row.r));
}

for (const style of loadStyles) {
  describe.skipIf(style !== 'arrays' && !pgAvailable)(`users' own tables (${style})`, () => {
    let opened: Opened;
    beforeAll(async () => {
      opened = await openForStyle(style, { migrations: [...builtinMigrations, gadgets] });
    });
    afterAll(async () => { await opened?.close(); });

    it.each(isolations)('restores every type of a custom table byte for byte (%s)',
      async (iso) => {
        const { tenancy } = opened;
        const id = tenantName(`gad-${iso.slice(0, 3)}`);
        await tenancy.tenants.create({ id, isolation: iso });
        await seed(tenancy, id);
        const before = await gadgetsPicture(tenancy, id);
        expect(before).toHaveLength(204);
        // Small chunks: one table's rows span many chunks (one COPY across all of them).
        const { id: backupId } = await tenancy.backups.create(id, { chunkBytes: 2_000 });
        await tenancy.withTenant(id, ({ session }) => session.query(
          `UPDATE ${session.table('gadgets')} SET big = 'changed', tags = NULL`));
        const report = await tenancy.backups.restore(id, backupId);
        expect(report.rows).toBeGreaterThanOrEqual(204);
        expect(await gadgetsPicture(tenancy, id)).toEqual(before);
      });
  });
}

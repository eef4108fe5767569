// A restore loads rows by COPY when the admin role is exempt from row-level security (a
// superuser here), by multi-row VALUES as the runtime role when it is not (a plain owner
// role), and by unnested arrays on PGlite. Every path must bring back the same bytes,
// including values with tabs, newlines, backslashes and the text `\N`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenancy } from '../../src/index.ts';
import { isolations, serverAvailable, tenantName } from '../support/drivers.ts';
import { loadStyles, openForStyle, type Opened } from './load-styles.ts';
import { picture, seedTenant } from './support.ts';

const pgAvailable = await serverAvailable();

/** Strings COPY's text format must escape, or could mistake for NULL or a row's end. */
const awkward = ['tab\there', 'line\nbreak', 'cr\rhere', 'back\\slash', '\\N', '', '\\.',
  'ends with backslash\\', 'ünïcode ✓'];

async function seedAwkward(tenancy: Tenancy, id: string): Promise<void> {
  await seedTenant(tenancy, id, 3);
  await tenancy.withTenant(id, async (t) => {
    await t.conversations.create({
      id: 'awkward-id', title: awkward.join('|'), metadata: { awkward, nested: { a: awkward } },
      messages: awkward.map((content) => ({ role: 'user' as const, content: content || '.' })),
    });
    await t.documents.create({
      id: 'doc-n', title: '\\N', text: awkward.join('\n'), metadata: { k: '\\N', t: '\t' },
    });
  });
}

async function roundTrip(tenancy: Tenancy, id: string): Promise<void> {
  const before = await picture(tenancy, id);
  const { id: backupId } = await tenancy.backups.create(id);
  await tenancy.withTenant(id, async (t) => {
    await t.conversations.delete('awkward-id');
    await t.documents.create({ id: 'added-after', title: 'x', text: 'y' });
  });
  const report = await tenancy.backups.restore(id, backupId);
  expect(report.rows).toBeGreaterThan(0);
  expect(await picture(tenancy, id)).toEqual(before);
}

describe.each(loadStyles)('restores loading by %s', (style) => {
  let opened: Opened | undefined;
  beforeAll(async () => {
    if (style !== 'arrays' && !pgAvailable) return;
    opened = await openForStyle(style);
  });
  afterAll(async () => {
    await opened?.close();
  });

  it.skipIf(style !== 'values' || !pgAvailable)(
    'runs with an admin that is neither superuser nor exempt from row-level security',
    async () => {
      const found = await opened?.sql?.query<{ exempt: boolean }>(
        `SELECT rolsuper OR rolbypassrls AS exempt FROM pg_roles
          WHERE rolname = (SELECT pg_get_userbyid(datdba) FROM pg_database
                            WHERE datname = current_database())`);
      expect(found?.rows[0]?.exempt).toBe(false);
    });

  it.skipIf(style !== 'arrays' && !pgAvailable).each(isolations)(
    'brings awkward values back exactly (%s)', async (iso) => {
      const tenancy = (opened as Opened).tenancy;
      const id = tenantName(`awk-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id, isolation: iso });
      await seedAwkward(tenancy, id);
      await roundTrip(tenancy, id);
    });
});

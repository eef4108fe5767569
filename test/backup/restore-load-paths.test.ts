// A restore loads rows by COPY when the admin role is exempt from row-level security (a
// superuser here), by multi-row VALUES as the runtime role when it is not (a plain owner
// role), and by unnested arrays on PGlite. Every path must bring back the same bytes,
// including values with tabs, newlines, backslashes and the text `\N`.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tenancy } from '../../src/index.ts';
import {
  freshDeployment, isolations, serverAvailable, serverUrl, tenantName, type TestDeployment,
} from '../support/drivers.ts';
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

const defaultPaths = [
  { kind: 'pglite', path: 'on PGlite (unnested arrays)' },
  { kind: 'pg', path: 'on the server as a superuser admin (COPY)' },
] as const;

for (const { kind, path } of defaultPaths) {
  describe.skipIf(kind === 'pg' && !pgAvailable)(`restores ${path}`, () => {
    let deployment: TestDeployment;
    let tenancy: Tenancy;
    beforeAll(async () => {
      deployment = await freshDeployment(kind);
      tenancy = await Tenancy.open(deployment.config);
    });
    afterAll(async () => {
      await tenancy?.close();
      await deployment?.cleanup();
    });

    it.each(isolations)('brings awkward values back exactly (%s)', async (iso) => {
      const id = tenantName(`awk-${iso.slice(0, 3)}`);
      await tenancy.tenants.create({ id, isolation: iso });
      await seedAwkward(tenancy, id);
      await roundTrip(tenancy, id);
    });
  });
}

describe.skipIf(!pgAvailable)('restores on the server as an admin that obeys row-level ' +
  'security (VALUES)', () => {
  const suffix = randomBytes(4).toString('hex');
  const role = `tt${suffix}_owner`;
  const database = `tenancy_test_${suffix}`;
  const prefix = `tt${suffix}_`;
  let tenancy: Tenancy;
  let superuser: pg.Client;

  beforeAll(async () => {
    superuser = new pg.Client({ connectionString: serverUrl });
    await superuser.connect();
    await superuser.query(`CREATE ROLE "${role}" LOGIN CREATEDB CREATEROLE`);
    await superuser.query(`CREATE DATABASE "${database}" OWNER "${role}"`);
    const url = new URL(serverUrl);
    url.username = role;
    url.password = '';
    url.pathname = `/${database}`;
    tenancy = await Tenancy.open({
      logLevel: 'silent',
      regions: { local: { database: url.toString(), tenantDatabasePrefix: prefix } },
    });
  });
  afterAll(async () => {
    await tenancy?.close();
    const dbs = await superuser.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)',
      [database, prefix]);
    for (const { datname } of dbs.rows) {
      await superuser.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
    const owned = await superuser.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [prefix]);
    for (const { rolname } of owned.rows) {
      await superuser.query(`DROP OWNED BY "${rolname}"`).catch(() => undefined);
      await superuser.query(`DROP ROLE IF EXISTS "${rolname}"`);
    }
    await superuser.end();
  });

  it('runs with an admin that is neither superuser nor exempt from row-level security',
    async () => {
    const found = await superuser.query<{ exempt: boolean }>(
      'SELECT rolsuper OR rolbypassrls AS exempt FROM pg_roles WHERE rolname = $1', [role]);
    expect(found.rows[0]?.exempt).toBe(false);
  });

  it.each(isolations)('brings awkward values back exactly (%s)', async (iso) => {
    const id = tenantName(`awk-${iso.slice(0, 3)}`);
    await tenancy.tenants.create({ id, isolation: iso });
    await seedAwkward(tenancy, id);
    await roundTrip(tenancy, id);
  });
});

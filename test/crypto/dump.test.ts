// A dump reveals no plaintext: pg_dump of every database on the server, and every file of an
// embedded data folder, hold none of the titles, messages or documents written in the clear.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Tenancy } from '../../src/index.ts';
import { freshDeployment, isolations, type TestDeployment } from '../support/drivers.ts';
import { skipDriver } from '../core/harness.ts';

const run = promisify(execFile);

/** Marker strings written through the stores into every encrypted field of every isolation. */
function markers(isolation: string) {
  const mark = (what: string) => `MARK${what}${isolation}${randomBytes(6).toString('hex')}`;
  return {
    sealed: {
      title: mark('title'), message: mark('message'), reply: mark('reply'),
      docTitle: mark('doctitle'), docText: mark('doctext'), ref: mark('ref'),
    },
    // Metadata is stored in the clear: finding it proves the search would see a leak.
    control: mark('control'),
  };
}

type Markers = ReturnType<typeof markers>;

async function fill(config: TestDeployment['config']): Promise<Markers[]> {
  const tenancy = await Tenancy.open(config);
  const all: Markers[] = [];
  try {
    for (const isolation of isolations) {
      const m = markers(isolation);
      all.push(m);
      const id = `dump-${isolation}`;
      await tenancy.tenants.create({ id, isolation });
      await tenancy.withTenant(id, async (t) => {
        await t.conversations.create({ id: 'c-1', title: m.sealed.title,
          metadata: { note: m.control }, messages: [
            { role: 'user', content: `card number ${m.sealed.message}` },
          ] });
        await t.conversations.addMessage('c-1', { role: 'assistant', content: m.sealed.reply });
        // A long text, as a real document is: past the size where Postgres compresses values.
        await t.documents.create({ id: 'd-1', title: m.sealed.docTitle,
          text: `${m.sealed.docText} ${'lorem ipsum '.repeat(2000)} ${m.sealed.docText}`,
          externalRef: m.sealed.ref });
        const read = await t.documents.get('d-1');
        expect(read?.externalRef).toBe(m.sealed.ref);
      });
    }
  } finally {
    await tenancy.close();
  }
  return all;
}

/** Every form a marker could take in a dump: text, and bytea's hex and escape output. */
function forms(marker: string): string[] {
  return [marker, Buffer.from(marker).toString('hex'), Buffer.from(marker).toString('base64')
    .slice(0, 16)];
}

function expectNoPlaintext(dump: string, all: readonly Markers[]): void {
  for (const m of all) {
    for (const marker of Object.values(m.sealed)) {
      for (const form of forms(marker)) expect(dump.includes(form), marker).toBe(false);
    }
    expect(dump.includes(m.control), 'the clear metadata is in the dump').toBe(true);
  }
}

describe.skipIf(skipDriver('pg'))('a pg_dump of the server', () => {
  let deployment: TestDeployment | undefined;
  afterAll(() => deployment?.cleanup());

  it('holds envelopes of every encrypted field and no plaintext of any', async () => {
    deployment = await freshDeployment('pg');
    const all = await fill(deployment.config);
    const shared = new URL(deployment.databaseUrl as string);
    const tenantDb = new URL(shared);
    tenantDb.pathname = `/${deployment.prefix}dump-database`;
    let dump = '';
    for (const url of [shared, tenantDb]) {
      const { stdout } = await run('pg_dump', ['--no-owner', '-d', url.toString()],
        { maxBuffer: 256 * 1024 * 1024 });
      dump += stdout;
    }
    // The dump has the tenants' tables and their sealed values (bytea hex of the envelope).
    expect(dump).toContain('COPY tenancy_rows.conversations');
    expect(dump).toContain('COPY "tenant_dump-schema".documents');
    expect(dump.match(/\\\\xe70101/g)?.length ?? 0).toBeGreaterThanOrEqual(3 * 6);
    expectNoPlaintext(dump, all);
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('the files of an embedded data folder', () => {
  let deployment: TestDeployment | undefined;
  afterAll(() => deployment?.cleanup());

  it('hold no plaintext of any encrypted field, in tables or in the WAL', async () => {
    deployment = await freshDeployment('pglite');
    const all = await fill(deployment.config);
    const files = await filesUnder(deployment.dataDir);
    expect(files.some((f) => f.includes('pg_wal'))).toBe(true);
    const needles = all.flatMap((m) => Object.values(m.sealed).map((s) => Buffer.from(s)));
    const controls = all.map((m) => Buffer.from(m.control));
    const found = new Set<string>();
    for (const file of files) {
      const bytes = await readFile(file);
      for (const needle of needles) {
        if (bytes.includes(needle)) found.add(`${needle.toString()} in ${file}`);
      }
      for (const control of controls) {
        if (bytes.includes(control)) found.add(control.toString());
      }
    }
    expect([...found].filter((f) => f.includes(' in '))).toEqual([]);
    // The clear metadata of every isolation was found, so the search does see the data.
    expect(controls.every((c) => found.has(c.toString()))).toBe(true);
  });
});

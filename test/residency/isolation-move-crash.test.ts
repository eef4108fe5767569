// Crash safety of isolation moves: a child process moving a tenant between isolations is killed
// with SIGKILL after the copy is imported, after the catalog switch, and inside the drop of the
// old layout. A fresh process finds the tenant in one isolation with the leftover flagged by
// the residency report; the next call (as documented) undoes or finishes the move, leaving the
// tenant whole in that isolation, active, byte for byte as before, with no stray copy.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import { Tenancy } from '../../src/index.ts';
import { skipDriver } from '../core/harness.ts';
import { picture, seedTenant } from '../backup/support.ts';
import { drivers, freshDeployment, tenantName, type TestDeployment } from '../support/drivers.ts';
import { killChildWhen } from '../support/kill-child.ts';
import { layoutsOf } from './isolation-layouts.ts';

const child = resolve(process.cwd(), 'test/residency/isolation-move-child.ts');

/** Runs the child until it prints `at`, then kills it with SIGKILL; returns what it printed. */
const killAt = (args: readonly string[], at: string): Promise<string[]> =>
  killChildWhen(child, args, (line) => line === at);

interface Case {
  point: string;
  from: Isolation;
  to: Isolation;
  at: 'copied' | 'switched' | 'dropping';
  /** What the operator runs next: the documented move call, or a plain resume. */
  recoverBy?: 'move' | 'resume';
}

const cases: Case[] = [
  { point: 'after the copy is imported', from: 'schema', to: 'row', at: 'copied' },
  { point: 'after the copy is imported', from: 'row', to: 'database', at: 'copied' },
  { point: 'after the catalog switch', from: 'schema', to: 'row', at: 'switched' },
  { point: 'after the catalog switch', from: 'row', to: 'database', at: 'switched' },
  { point: 'inside the drop of the old layout', from: 'schema', to: 'row', at: 'dropping' },
  { point: 'inside the drop of the old layout', from: 'row', to: 'database', at: 'dropping' },
  // A resume after the crash left a suspended tenant behind a move fence: it must recover too.
  { point: 'after the copy is imported, then resumed', from: 'schema', to: 'row', at: 'copied',
    recoverBy: 'resume' },
  { point: 'after the catalog switch, then resumed', from: 'row', to: 'database',
    at: 'switched', recoverBy: 'resume' },
];

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`isolation moves killed with SIGKILL (${kind})`, () => {
    let deployment: TestDeployment;
    let configPath: string;

    beforeAll(async () => {
      deployment = await freshDeployment(kind);
      configPath = join(deployment.dataDir, 'config.json');
      await writeFile(configPath, JSON.stringify(deployment.config));
    });
    afterAll(async () => {
      await deployment?.cleanup();
    });

    /** Opens Tenancy afresh for `fn` and closes it again (PGlite's folder takes one process). */
    async function fresh<T>(fn: (tenancy: Tenancy) => Promise<T>): Promise<T> {
      const tenancy = await Tenancy.open(deployment.config, { command: 'crash test' });
      try {
        return await fn(tenancy);
      } finally {
        await tenancy.close();
      }
    }

    it.each(cases)('a $from to $to move killed $point leaves the tenant whole in one isolation',
      async ({ from, to, at, recoverBy }) => {
        const id = tenantName(`ik-${from.slice(0, 3)}-${at.slice(0, 4)}`);
        const neighbour = tenantName(`in-${from.slice(0, 3)}-${at.slice(0, 4)}`);
        const before = await fresh(async (tenancy) => {
          await tenancy.tenants.create({ id, isolation: from });
          await tenancy.tenants.create({ id: neighbour, isolation: from });
          await seedTenant(tenancy, id, 4);
          await seedTenant(tenancy, neighbour, 2);
          return { tenant: await picture(tenancy, id), neighbour: await picture(tenancy, neighbour) };
        });
        expect(before.tenant.messages).toHaveLength(8);

        const said = await killAt([configPath, id, to, at], at);
        expect(said).toContain(at === 'dropping' ? 'switched' : at);
        expect(said.some((line) => line.startsWith('done'))).toBe(false);

        // Before the switch the tenant stays where it was; from the switch on it is in `to`.
        const whole: Isolation = at === 'copied' ? from : to;
        const stray: Isolation = at === 'copied' ? to : from;
        await fresh(async (tenancy) => {
          expect((await tenancy.tenants.get(id)).isolation).toBe(whole);
          // What the killed process left is in plain sight: the other layout is a stray copy.
          const report = await tenancy.residency.report(id);
          expect(report.ok).toBe(false);
          const findings = report.tenants[0]?.findings ?? [];
          const strayPlaces = (report.tenants[0]?.places ?? [])
            .filter((p) => p.kind === 'rows' && p.isolation === stray).map((p) => p.where);
          expect(strayPlaces.length).toBeGreaterThan(0);
          expect(findings.map((f) => [f.problem, f.kind, f.where]).sort())
            .toEqual(strayPlaces.map((where) => ['stray-copy', 'rows', where]).sort());
          expect(new Set(await layoutsOf(tenancy, id))).toEqual(new Set([whole, stray]));

          // The next call finishes or undoes the move: the tenant is already where it is whole.
          if (recoverBy === 'resume') {
            expect(await tenancy.tenants.resume(id))
              .toMatchObject({ isolation: whole, status: 'active' });
          } else {
            expect(await tenancy.tenants.move(id, { isolation: whole }, { settleMillis: 0 }))
              .toMatchObject({ moved: false, from: whole, to: whole });
          }
          const now = await tenancy.tenants.get(id);
          expect(now).toMatchObject({ isolation: whole, status: 'active' });
          expect(await layoutsOf(tenancy, id)).toEqual([whole]);
          expect(await picture(tenancy, id)).toEqual(before.tenant);
          expect(await tenancy.withTenant(id, async (t) =>
            (await t.conversations.get('c-3'))?.messages.map((m) => m.content)))
            .toEqual([`${id} asks 3: it's "quoted", back\\slash, ünïcode`, `${id} answers 3`]);
          expect(await picture(tenancy, neighbour)).toEqual(before.neighbour);
          const after = await tenancy.residency.report(id);
          expect(after.tenants[0]?.findings).toEqual([]);
          expect(after.ok).toBe(true);
          const audit = await tenancy.audit.list({ tenantId: id, action: 'tenant.move*' });
          expect(audit.items[0]?.action)
            .toBe(at === 'copied' ? 'tenant.move.undone' : 'tenant.move.done');

          // It takes writes where it now lives, and moves on cleanly.
          await tenancy.withTenant(id, (t) => t.conversations.create({ id: 'after', title: 'x' }));
          const next: Isolation = whole === 'schema' ? 'database' : 'schema';
          await tenancy.tenants.move(id, { isolation: next }, { settleMillis: 0 });
          expect(await layoutsOf(tenancy, id)).toEqual([next]);
          expect(await tenancy.withTenant(id, async (t) =>
            (await t.conversations.get('after'))?.title)).toBe('x');
        });
      });
  });
}

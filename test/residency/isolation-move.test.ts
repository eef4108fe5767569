// Moving a tenant between isolations in its region: every (from, to) pair on PGlite and the
// Postgres server, envelopes copied byte for byte and still opening, a neighbour untouched and
// serving throughout, and a move cut short at any step leaving the tenant whole in one isolation.
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../../src/config/schema.ts';
import type { Tenancy } from '../../src/index.ts';
import type { MoveStep } from '../../src/residency/move-ledger.ts';
import { expectCode, skipDriver, useDeployment } from '../core/harness.ts';
import { drivers, isolations, tenantName } from '../support/drivers.ts';
import { picture, seedTenant } from '../backup/support.ts';
import { layoutsOf } from './isolation-layouts.ts';

const pairs: [Isolation, Isolation][] = isolations.flatMap((from) =>
  isolations.filter((to) => to !== from).map((to): [Isolation, Isolation] => [from, to]));

/** What the API gives back: plaintext of every conversation, message and document. */
async function plaintext(tenancy: Tenancy, id: string): Promise<unknown> {
  return tenancy.withTenant(id, async (t) => {
    const chats = await t.conversations.list({ limit: 100 });
    const docs = await t.documents.list({ limit: 100 });
    const full = [];
    for (const chat of chats.items) full.push(await t.conversations.get(chat.id));
    return { full, docs: docs.items, byRef: await t.documents.findByExternalRef(`REF-${id}`) };
  });
}

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`tenants move --isolation (${kind})`, () => {
    const d = useDeployment(kind);

    it.each(pairs)('moves a tenant from %s to %s isolation with its envelopes intact',
      async (from, to) => {
        const tenancy = d.tenancy;
        const id = tenantName(`im-${from.slice(0, 3)}-${to.slice(0, 3)}`);
        const neighbour = tenantName(`nb-${from.slice(0, 3)}-${to.slice(0, 3)}`);
        await tenancy.tenants.create({ id, isolation: from });
        await tenancy.tenants.create({ id: neighbour, isolation: from });
        await seedTenant(tenancy, id, 5);
        await seedTenant(tenancy, neighbour, 3);
        const before = await picture(tenancy, id);
        const readable = await plaintext(tenancy, id);
        const neighbourBefore = await picture(tenancy, neighbour);

        // The neighbour keeps reading and writing while the tenant moves.
        let moving = true;
        let served = 0;
        const errors: unknown[] = [];
        const traffic = (async () => {
          for (let n = 0; moving; n += 1) {
            try {
              await tenancy.withTenant(neighbour, async (t) => {
                await t.conversations.create({ id: `live-${n}`, title: 'during' });
                await t.conversations.get('c-0');
              });
              served += 1;
            } catch (err) {
              errors.push(err);
            }
            // PGlite answers on microtasks: a loop that never yields to the event loop would
            // starve the move's timers and file copies, as no request-driven caller does.
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        let held = false;
        const result = await tenancy.tenants.move(id, { isolation: to }, {
          settleMillis: 0,
          onStep: async (step) => {
            if (step !== 'copied') return;
            await expectCode(tenancy.withTenant(id, (t) => t.conversations.get('c-0')),
              'TENANT_SUSPENDED');
            held = true;
          },
        }).finally(() => { moving = false; });
        await traffic;

        expect(held).toBe(true);
        expect(errors).toEqual([]);
        expect(served).toBeGreaterThan(0);
        expect(result).toMatchObject({ tenantId: id, from, to, moved: true });
        expect(result.tables.find((t) => t.table === 'messages')?.rows).toBe(10);
        const now = await tenancy.tenants.get(id);
        expect(now.isolation).toBe(to);
        expect(now.status).toBe('active');
        // Same bytes, tenant id and envelopes included: ciphertext is not bound to the layout.
        expect(await picture(tenancy, id)).toEqual(before);
        expect(await plaintext(tenancy, id)).toEqual(readable);
        expect(await layoutsOf(tenancy, id)).toEqual([to]);

        // The neighbour's rows are exactly as they were, but for what it wrote meanwhile.
        const neighbourAfter = await picture(tenancy, neighbour);
        await tenancy.withTenant(neighbour, async ({ session }) => {
          await session.query(
            `DELETE FROM ${session.table('conversations')} WHERE id LIKE 'live-%'`);
        });
        expect(neighbourAfter.conversations?.length)
          .toBe((neighbourBefore.conversations?.length ?? 0) + served);
        expect(await picture(tenancy, neighbour)).toEqual(neighbourBefore);

        const steps = await tenancy.audit.list({ tenantId: id, action: 'tenant.move*' });
        expect(steps.items.map((r) => r.action).reverse()).toEqual(['tenant.move.started',
          'tenant.move.copied', 'tenant.move.verified', 'tenant.move.switched',
          'tenant.move.source-destroyed', 'tenant.move']);
        // Writes land in the new layout.
        await tenancy.withTenant(id, (t) => t.conversations.create({ id: 'after', title: 'x' }));
        expect(await tenancy.withTenant(id, async (t) =>
          (await t.conversations.get('after'))?.title)).toBe('x');
      });

    const steps: MoveStep[] = ['started', 'copied', 'verified', 'switched', 'source-destroyed'];
    it.each(steps)('leaves the tenant whole in one isolation when the move fails after %s',
      async (failAt) => {
        const tenancy = d.tenancy;
        const [from, to]: [Isolation, Isolation] =
          failAt === 'copied' || failAt === 'source-destroyed'
            ? ['row', 'database'] : ['schema', 'row'];
        const id = tenantName(`imf-${failAt.slice(0, 6)}`);
        await tenancy.tenants.create({ id, isolation: from });
        await seedTenant(tenancy, id, 3);
        const before = await picture(tenancy, id);
        const failed = await expectCode(tenancy.tenants.move(id, { isolation: to }, {
          settleMillis: 0,
          onStep: (step) => { if (step === failAt) throw new Error(`stopped after ${step}`); },
        }), 'TENANT_ISOLATION_MOVE_FAILED');
        const switched = failAt === 'switched' || failAt === 'source-destroyed';
        const whole = switched ? to : from;
        expect(failed.message).toContain(`whole in ${whole} isolation`);
        const now = await tenancy.tenants.get(id);
        expect(now.isolation).toBe(whole);
        expect(now.status).toBe('active');
        expect(await layoutsOf(tenancy, id)).toEqual([whole]);
        expect(await picture(tenancy, id)).toEqual(before);
        const audit = await tenancy.audit.list({ tenantId: id, action: 'tenant.move*' });
        expect(audit.items[0]).toMatchObject({ action: 'tenant.move', outcome: 'failed' });
        expect(audit.items.map((r) => r.action))
          .toContain(switched ? 'tenant.move.done' : 'tenant.move.undone');
        // The next move starts clean and finishes.
        const next: Isolation = whole === 'schema' ? 'database' : 'schema';
        await tenancy.tenants.move(id, { isolation: next }, { settleMillis: 0 });
        expect((await tenancy.tenants.get(id)).isolation).toBe(next);
        expect(await layoutsOf(tenancy, id)).toEqual([next]);
        expect(await picture(tenancy, id)).toEqual(before);
      });

    it('keeps a suspended tenant suspended and answers a move to its own isolation', async () => {
      const tenancy = d.tenancy;
      const id = tenantName('im-susp');
      await tenancy.tenants.create({ id, isolation: 'row' });
      await seedTenant(tenancy, id, 2);
      expect(await tenancy.tenants.move(id, { isolation: 'row' }, { settleMillis: 0 }))
        .toMatchObject({ moved: false, from: 'row', to: 'row' });
      await tenancy.tenants.suspend(id);
      await tenancy.tenants.move(id, { isolation: 'schema' }, { settleMillis: 0 });
      expect(await tenancy.tenants.get(id)).toMatchObject({ isolation: 'schema',
        status: 'suspended' });
      await expectCode(tenancy.tenants.move('no-such-tenant', { isolation: 'row' },
        { settleMillis: 0 }), 'TENANT_NOT_FOUND');
    });
  });
}

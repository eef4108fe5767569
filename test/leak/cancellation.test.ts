// Leak kit: a session cancelled at any point (before it starts, while it queues for the one
// connection, after it wrote) answers CANCELLED, keeps nothing, and hands a clean connection on.
import { beforeAll, describe, expect, it } from 'vitest';
import { isTenancyError, type TenantScope } from '../../src/index.ts';
import { isolations } from '../support/drivers.ts';
import { directTargets, skipTarget, useLeakDeployment } from './support/targets.ts';

const ids = async (t: TenantScope): Promise<string[]> =>
  (await t.documents.list({ limit: 100 })).items.map((doc) => doc.id);

const outcome = (work: Promise<unknown>): Promise<string> =>
  work.then(() => 'resolved', (err: unknown) => (isTenancyError(err) ? err.code : String(err)));

for (const target of directTargets) {
  describe.skipIf(skipTarget(target))(`cancelled sessions on ${target.name}`, () => {
    const d = useLeakDeployment(target, { pool: { shared: 1, tenantDatabases: 1 } });

    beforeAll(async () => {
      for (const isolation of isolations) {
        for (const id of [`cx${isolation[0]}-a`, `cx${isolation[0]}-b`]) {
          await d.tenancy.tenants.create({ id, isolation });
          await d.tenancy.withTenant(id, (t) =>
            t.documents.create({ id: `${id}-seed`, title: id, text: id }));
        }
      }
    });

    for (const isolation of isolations) {
      const [a, b] = [`cx${isolation[0]}-a`, `cx${isolation[0]}-b`];

      it(`${isolation}: a session cancelled before it starts or while it queues for the ` +
        'connection never runs; one cancelled after writing keeps nothing; the next tenant on ' +
        'the connection sees only its own rows', async () => {
        const ran: string[] = [];
        const early = new AbortController();
        early.abort();
        const before = await outcome(d.tenancy.withTenant(a, async () => {
          ran.push('before');
        }, { signal: early.signal }));

        // B holds the only connection while A queues for it and is cancelled there.
        let letGo = (): void => undefined;
        let holding = (): void => undefined;
        const held = new Promise<void>((resolve) => { holding = resolve; });
        const holder = d.tenancy.withTenant(b, async (t) => {
          holding();
          await new Promise<void>((resolve) => { letGo = resolve; });
          return ids(t);
        });
        await held;
        const queuedSignal = new AbortController();
        const queued = outcome(d.tenancy.withTenant(isolation === 'database' ? b : a,
          async (t) => {
            ran.push('queued');
            await t.documents.create({ id: 'queued-write', title: 'x', text: 'x' });
          }, { signal: queuedSignal.signal }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        queuedSignal.abort();
        letGo();
        const holderSaw = await holder;

        const afterWrite = new AbortController();
        const wrote = await outcome(d.tenancy.withTenant(a, async (t) => {
          ran.push('after writing');
          await t.documents.create({ id: 'cancelled-write', title: 'x', text: 'x' });
          afterWrite.abort(); // the client went away before the handler returned
        }, { signal: afterWrite.signal }));

        expect({ before, queued: await queued, wrote }).toEqual({
          before: 'CANCELLED', queued: 'CANCELLED', wrote: 'CANCELLED',
        });
        // Neither the early nor the queued session ran any of the caller's code.
        expect(ran).toEqual(['after writing']);
        expect(holderSaw).toEqual([`${b}-seed`]);
        const next = await d.tenancy.withTenant(b, async (t) => ({
          setting: (await t.session.query<{ tenant: string }>(
            "SELECT current_setting('tenancy.tenant_id', true) AS tenant")).rows[0]?.tenant,
          ids: await ids(t),
        }));
        expect(next).toEqual({ setting: b, ids: [`${b}-seed`] });
        expect(await d.tenancy.withTenant(a, ids)).toEqual([`${a}-seed`]);
      });
    }
  });
}

// Leak kit: the tenant of a session holds across awaits, timers, event emitters and streams,
// never crosses between queued sessions on a pool of one, and never outlives its session.
import { EventEmitter, once } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTenancyError, type TenantScope } from '../../src/index.ts';
import { isolations } from '../support/drivers.ts';
import { directTargets, skipTarget, useLeakDeployment } from './support/targets.ts';

/** What a session sees right now: the bound tenant and the ids of the documents it can read. */
async function sees(t: TenantScope): Promise<string> {
  const setting = (await t.session.query<{ tenant: string }>(
    "SELECT current_setting('tenancy.tenant_id', true) AS tenant")).rows[0]?.tenant;
  const ids = (await t.documents.list({ limit: 100 })).items.map((doc) => doc.id).join(',');
  return `${setting}:${ids}`;
}

const own = (id: string): string => `${id}:${id}-doc`;

for (const target of directTargets) {
  describe.skipIf(skipTarget(target))(`async context on ${target.name}`, () => {
    const d = useLeakDeployment(target, { pool: { shared: 1, tenantDatabases: 1 } });
    const tenantsOf = new Map(isolations.map((isolation) => [isolation,
      [0, 1, 2].map((i) => `ac${isolation[0]}-${i}`)]));

    beforeAll(async () => {
      for (const [isolation, ids] of tenantsOf) {
        for (const id of ids) {
          await d.tenancy.tenants.create({ id, isolation });
          await d.tenancy.withTenant(id, (t) =>
            t.documents.create({ id: `${id}-doc`, title: id, text: id }));
        }
      }
    });

    for (const isolation of isolations) {
      const [first, second, third] = tenantsOf.get(isolation) as [string, string, string];

      it(`${isolation}: one session keeps its tenant across awaits, timers, an event emitter ` +
        'and a stream', async () => {
        const seen = await d.tenancy.withTenant(first, async (t) => {
          const log: string[] = [await sees(t)];
          await sleep(5);
          log.push(await sees(t));
          await immediate();
          log.push(await new Promise<string>((resolve, reject) => {
            setTimeout(() => void sees(t).then(resolve, reject), 2);
          }));
          const events = new EventEmitter();
          const heard = once(events, 'seen');
          events.on('tick', () => void sees(t).then((s) => events.emit('seen', s)));
          setTimeout(() => events.emit('tick'), 1);
          log.push(...((await heard) as string[]));
          const streamed: string[] = [];
          await pipeline(
            Readable.from([1, 2, 3]),
            new Transform({
              objectMode: true,
              transform(_chunk, _encoding, done) {
                sees(t).then((s) => done(null, s), done);
              },
            }),
            new Writable({
              objectMode: true,
              write(chunk: string, _encoding, done) {
                streamed.push(chunk);
                setTimeout(done, 1);
              },
            }),
          );
          log.push(...streamed);
          log.push(...await Promise.all([sees(t), sees(t)]));
          return log;
        });
        expect(seen).toEqual(Array.from({ length: 9 }, () => own(first)));
      });

      it(`${isolation}: sessions of three tenants queued on a pool of one never cross`,
        async () => {
          const order = Array.from({ length: 30 }, (_, i) => [first, second, third][i % 3]);
          const results = await Promise.all(order.map((id, i) =>
            d.tenancy.withTenant(id as string, async (t) => {
              const a = await sees(t);
              await sleep(i % 4);
              await immediate();
              return [id, a, await sees(t)];
            })));
          expect(results).toEqual(order.map((id) => [id, own(id as string), own(id as string)]));
        });

      it(`${isolation}: a scope kept past its session is refused (NO_TENANT_CONTEXT) instead ` +
        "of reading or writing the next tenant's rows", async () => {
        // A handler that hands its scope to a late timer: by the time it fires, the session's
        // transaction is over and, on a pool of one, its connection serves the next tenant.
        const kept = await d.tenancy.withTenant(first, async (t) => t);
        const tries = await d.tenancy.withTenant(second, async (t) => {
          const late = await Promise.all([
            kept.session.query(`SELECT id FROM ${kept.session.table('documents')}`),
            kept.documents.list(),
            kept.documents.create({ id: 'planted', title: 'planted', text: 'planted' }),
            kept.conversations.list(),
          ].map((work) => work.then(() => 'ran', (err: unknown) =>
            (isTenancyError(err) ? err.code : String(err)))));
          return { late, own: await sees(t) };
        });
        expect(tries).toEqual({ late: Array(4).fill('NO_TENANT_CONTEXT'), own: own(second) });
        expect(await d.tenancy.withTenant(first, sees)).toBe(own(first));
        expect(await d.tenancy.withTenant(second, sees)).toBe(own(second));
      });
    }
  });
}

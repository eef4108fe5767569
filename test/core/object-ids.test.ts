// Object ids: kept when supplied, random UUID v4 otherwise, unique per tenant, never sequential.
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations } from '../support/drivers.ts';
import { expectCode, skipDriver, useDeployment } from './harness.ts';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`object ids on ${kind}`, () => {
    const d = useDeployment(kind);

    beforeAll(async () => {
      for (const isolation of isolations) {
        for (const id of [`ids-${isolation}`, `twin-${isolation}`]) {
          await d.tenancy.tenants.create({ id, isolation });
        }
      }
    });

    it.each(isolations)('keeps a supplied id in a %s tenant', async (isolation) => {
      const id = `ids-${isolation}`;
      const made = await d.tenancy.withTenant(id, async (t) => ({
        doc: await t.documents.create({ id: 'doc:2024.01-a', title: 'supplied', text: 'x' }),
        chat: await t.conversations.create({
          id: 'chat-1', title: 'supplied', messages: [{ id: 'm_1', role: 'user', content: 'hi' }],
        }),
      }));
      expect(made.doc.id).toBe('doc:2024.01-a');
      expect(made.chat.id).toBe('chat-1');
      expect(made.chat.messages.map((m) => m.id)).toEqual(['m_1']);
      const read = await d.tenancy.withTenant(id, (t) => t.documents.get('doc:2024.01-a'));
      expect(read?.title).toBe('supplied');
    });

    it.each(isolations)('gives random UUID v4 ids, never sequential, in a %s tenant',
      async (isolation) => {
        const id = `ids-${isolation}`;
        const made = await d.tenancy.withTenant(id, async (t) => {
          const docs = [];
          for (let n = 0; n < 20; n += 1) {
            docs.push((await t.documents.create({ title: `auto ${n}`, text: '' })).id);
          }
          const chat = await t.conversations.create({
            title: 'auto',
            messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }],
          });
          const message = await t.conversations.addMessage(chat.id, { role: 'user', content: 'c' });
          return { docs, chat: chat.id, messages: [...chat.messages.map((m) => m.id), message.id] };
        });
        const all = [...made.docs, made.chat, ...made.messages];
        for (const generated of all) expect(generated).toMatch(uuidV4);
        expect(new Set(all).size).toBe(all.length);
        // Twenty random ids come out in creation order once in 20! tries; sequential ids always do.
        expect([...made.docs].sort()).not.toEqual(made.docs);
        const leading = made.docs.map((value) => Number.parseInt(value.slice(0, 8), 16));
        const steps = leading.slice(1).map((value, i) => value - (leading[i] as number));
        expect(steps.every((step) => Math.abs(step) <= 1)).toBe(false);
      });

    it.each(isolations)('lets two %s tenants use the same id independently', async (isolation) => {
      const [a, b] = [`ids-${isolation}`, `twin-${isolation}`];
      await d.tenancy.withTenant(a, (t) => t.documents.create({ id: 'shared', title: a, text: a }));
      await d.tenancy.withTenant(b, (t) => t.documents.create({ id: 'shared', title: b, text: b }));
      await d.tenancy.withTenant(a, (t) => t.conversations.create({ id: 'shared', title: a }));
      await d.tenancy.withTenant(b, (t) => t.conversations.create({ id: 'shared', title: b }));
      for (const id of [a, b]) {
        const seen = await d.tenancy.withTenant(id, async (t) => ({
          doc: await t.documents.get('shared'),
          chat: await t.conversations.get('shared'),
        }));
        expect(seen.doc).toMatchObject({ id: 'shared', title: id, text: id });
        expect(seen.chat).toMatchObject({ id: 'shared', title: id });
      }
      // A delete in one tenant leaves the other's object with the same id alone.
      expect(await d.tenancy.withTenant(b, (t) => t.documents.delete('shared'))).toBe(true);
      expect((await d.tenancy.withTenant(a, (t) => t.documents.get('shared')))?.title).toBe(a);
    });

    it.each(isolations)('refuses an id already used in the same %s tenant with ID_TAKEN',
      async (isolation) => {
        const id = `ids-${isolation}`;
        const doc = await expectCode(d.tenancy.withTenant(id, (t) =>
          t.documents.create({ id: 'shared', title: 'again', text: 'again' })), 'ID_TAKEN');
        expect(doc.status).toBe(409);
        expect(doc.tenantId).toBe(id);
        expect(doc.sqlState).toBe('23505');
        await expectCode(d.tenancy.withTenant(id, (t) =>
          t.conversations.create({ id: 'shared', title: 'again' })), 'ID_TAKEN');
        await expectCode(d.tenancy.withTenant(id, async (t) => {
          const chat = await t.conversations.create({ title: 'messages' });
          await t.conversations.addMessage(chat.id, { id: 'dup', role: 'user', content: '1' });
          await t.conversations.addMessage(chat.id, { id: 'dup', role: 'user', content: '2' });
        }), 'ID_TAKEN');
        const kept = await d.tenancy.withTenant(id, (t) => t.documents.get('shared'));
        expect(kept).toMatchObject({ title: id, text: id });
      });
  });
}

// A small mixed workload for a tenant, and a snapshot of everything it wrote, to compare.
import type { Tenancy } from '../../src/index.ts';

/** Conversations with messages, documents with external references, one embedding. */
export async function fill(tenancy: Tenancy, id: string, tag: string): Promise<void> {
  await tenancy.withTenant(id, async (t) => {
    for (const n of [1, 2]) {
      await t.conversations.create({ id: `c-${n}`, title: `${tag} talk ${n}`, messages: [
        { role: 'user', content: `${tag} question ${n}` },
        { role: 'assistant', content: `${tag} answer ${n}` },
      ] });
      await t.documents.create({ id: `d-${n}`, title: `${tag} doc ${n}`,
        text: `${tag} body ${n}`, externalRef: `${tag}-ref-${n}` });
    }
    await t.vectors.configure({ dimension: 3 });
    await t.vectors.setEmbedding('d-1', [0.1, 0.2, 0.3]);
  });
}

/** What the tenant sees: its data, decrypted, and a lookup through the blind index. */
export function snapshot(tenancy: Tenancy, id: string, tag: string): Promise<unknown> {
  return tenancy.withTenant(id, async (t) => ({
    conversations: await Promise.all(['c-1', 'c-2'].map((c) => t.conversations.get(c))),
    documents: await Promise.all(['d-1', 'd-2'].map((d) => t.documents.get(d))),
    byRef: (await t.documents.findByExternalRef(`${tag}-ref-2`)).items.map((d) => d.id),
    vectors: await t.vectors.settings(),
  }));
}

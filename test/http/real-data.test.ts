// Acceptance over real data: the public conversation files, one tenant each, imported through the
// library and read back through HTTP, with every tenant's key blind to every other tenant.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers, isolations } from '../support/drivers.ts';
import { bearer, skipDriver, useApp, withoutRequestId } from './harness.ts';

interface Source {
  id: string;
  title: string;
  messages: { role: 'user' | 'assistant'; content: string }[];
}

interface Loaded {
  tenant: string;
  isolation: (typeof isolations)[number];
  conversations: Source[];
  secret: string;
  inserted: number;
}

// Read where the data lives beside the project; never copied into it.
const dataDir = resolve(process.cwd(), '..', 'shared', 'data', 'conversations');
const files = readdirSync(dataDir).filter((name) => name.endsWith('.jsonl')).sort();

function load(file: string): Source[] {
  return readFileSync(resolve(dataDir, file), 'utf8').split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Source);
}

/** `count` items spread evenly over `items`, first and last included. */
function spread<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count },
    (_, k) => items[Math.round((k * (items.length - 1)) / (count - 1))] as T);
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>):
  Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(fn));
  }
}

const notFoundBody =
  '{"error":{"code":"NOT_FOUND","message":"not found","requestId":"<request-id>"}}';

for (const kind of drivers) {
  describe.skipIf(skipDriver(kind))(`real conversations over HTTP on ${kind}`, () => {
    const d = useApp(kind);
    const loaded: Loaded[] = [];

    beforeAll(async () => {
      for (const [i, file] of files.entries()) {
        const tenant = basename(file, '.jsonl');
        const isolation = isolations[i % isolations.length] as Loaded['isolation'];
        const { apiKey } = await d.tenancy.tenants.create({ id: tenant, isolation });
        const conversations = load(file);
        let inserted = 0;
        // About a hundred conversations per session: one transaction each, like an import.
        for (let start = 0; start < conversations.length; start += 100) {
          const batch = conversations.slice(start, start + 100);
          inserted += await d.tenancy.withTenant(tenant, async (t) => {
            let added = 0;
            for (const c of batch) if (await t.conversations.createIfAbsent(c)) added += 1;
            return added;
          });
        }
        loaded.push({ tenant, isolation, conversations, secret: apiKey.secret, inserted });
      }
    }, 300_000);

    it('imports every conversation of the five files exactly once', async () => {
      expect(loaded.map((l) => l.tenant)).toEqual(
        ['sgd-banks', 'sgd-flights', 'sgd-hotels', 'sgd-restaurants', 'tm4-coffee']);
      expect(new Set(loaded.map((l) => l.isolation))).toEqual(new Set(isolations));
      for (const l of loaded) expect(l.inserted).toBe(l.conversations.length);
      const first = loaded[0] as Loaded;
      const again = await d.tenancy.withTenant(first.tenant, async (t) => {
        const results = [];
        for (const c of first.conversations.slice(0, 100)) {
          results.push(await t.conversations.createIfAbsent(c));
        }
        return results;
      });
      expect(again.every((added) => !added)).toBe(true);
    });

    it("pages through each tenant's conversations: exactly the file's lines", async () => {
      const maxPageSize = d.tenancy.config.server.maxPageSize;
      for (const l of loaded) {
        const lines = readFileSync(resolve(dataDir, `${l.tenant}.jsonl`), 'utf8')
          .split('\n').filter((line) => line.trim() !== '').length;
        const ids: string[] = [];
        let after: string | null = null;
        let pages = 0;
        do {
          const query: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
          const res = await d.app.inject({ url: `/v1/conversations?limit=1000${query}`,
            headers: bearer(l.secret) });
          expect(res.statusCode).toBe(200);
          const page = res.json() as { items: { id: string }[]; next: string | null };
          expect(page.items.length).toBeLessThanOrEqual(maxPageSize);
          ids.push(...page.items.map((item) => item.id));
          after = page.next;
          pages += 1;
        } while (after !== null);
        expect(ids.length).toBe(lines);
        expect(pages).toBe(Math.ceil(lines / maxPageSize));
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual(l.conversations.map((c) => c.id).sort());
      }
    });

    it('reads a sample of each file back with the same title and messages', async () => {
      for (const l of loaded) {
        await inBatches(spread(l.conversations, 20), 5, async (source) => {
          const res = await d.app.inject({ url: `/v1/conversations/${source.id}`,
            headers: bearer(l.secret) });
          expect(res.statusCode).toBe(200);
          const got = res.json() as Omit<Source, 'messages'> & {
            messages: { position: number; role: string; content: string }[] };
          expect(got.id).toBe(source.id);
          expect(got.title).toBe(source.title);
          expect(got.messages.map((m) => ({ role: m.role, content: m.content })))
            .toEqual(source.messages);
          expect(got.messages.map((m) => m.position)).toEqual(source.messages.map((_, i) => i));
        });
      }
    });

    it("answers 404 to every tenant's key for a sample of every other tenant's ids",
      async () => {
        for (const reader of loaded) {
          for (const owner of loaded) {
            if (owner === reader) continue;
            await inBatches(spread(owner.conversations, 50), 8, async (source) => {
              const res = await d.app.inject({ url: `/v1/conversations/${source.id}`,
                headers: bearer(reader.secret) });
              expect(res.statusCode).toBe(404);
              expect(withoutRequestId(res)).toBe(notFoundBody);
            });
          }
        }
      });

    it("answers 404 for all of one tenant's ids to another tenant's key, both ways", async () => {
      const banks = loaded.find((l) => l.tenant === 'sgd-banks') as Loaded;
      const coffee = loaded.find((l) => l.tenant === 'tm4-coffee') as Loaded;
      expect(banks.isolation).not.toBe(coffee.isolation);
      for (const [reader, owner] of [[banks, coffee], [coffee, banks]] as const) {
        let refused = 0;
        await inBatches(owner.conversations, 8, async (source) => {
          const res = await d.app.inject({ url: `/v1/conversations/${source.id}`,
            headers: bearer(reader.secret) });
          expect(withoutRequestId(res)).toBe(notFoundBody);
          refused += 1;
        });
        expect(refused).toBe(owner.conversations.length);
      }
    });
  });
}

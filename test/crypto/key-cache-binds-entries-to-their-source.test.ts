// The key cache never serves keys loaded from one source (a tenant's region and catalog
// version) for another: after a move, the keys it destroyed are not handed out again.
import { describe, expect, it } from 'vitest';
import { KeyCache } from '../../src/crypto/key-cache.ts';

class Keys {
  destroyed = false;
  constructor(readonly from: string) {}
  destroy(): void {
    this.destroyed = true;
  }
}

describe('the key cache', () => {
  it('loads again for another source of the same tenant', async () => {
    const cache = new KeyCache<Keys>({ maxEntries: 10, maxAgeMillis: 60_000 });
    const eu = await cache.get('acme', async () => new Keys('eu'), 'eu|1');
    const us = await cache.get('acme', async () => new Keys('us'), 'us|2');
    const euAgain = await cache.get('acme', async () => new Keys('eu-new'), 'eu|3');
    expect([eu.from, us.from, euAgain.from]).toEqual(['eu', 'us', 'eu-new']);
    // The same source is a hit.
    expect(await cache.get('acme', async () => new Keys('other'), 'us|2')).toBe(us);
  });

  it('forgets (and wipes) every source of a tenant, and no other tenant', async () => {
    const cache = new KeyCache<Keys>({ maxEntries: 10, maxAgeMillis: 60_000 });
    const eu = await cache.get('acme', async () => new Keys('eu'), 'eu|1');
    const us = await cache.get('acme', async () => new Keys('us'), 'us|2');
    const neighbour = await cache.get('globex', async () => new Keys('eu'), 'eu|1');
    await cache.forget('acme', true);
    expect([eu.destroyed, us.destroyed, neighbour.destroyed]).toEqual([true, true, false]);
    expect(cache.size).toBe(1);
    expect(await cache.get('globex', async () => new Keys('x'), 'eu|1')).toBe(neighbour);
  });
});

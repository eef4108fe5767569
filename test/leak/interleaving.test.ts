// Leak kit: interleaved sessions of 50 tenants over a pool of 5 connections, in every isolation
// on both drivers, with failing and cancelled sessions among them.
import { describe } from 'vitest';
import { isolations } from '../support/drivers.ts';
import { interleavingCase, type InterleavingPlan } from './kit/interleaving.ts';
import { directTargets, skipTarget, useLeakDeployment } from './support/targets.ts';

const pool = { shared: 5, tenantDatabases: 5 };

function planFor(kind: string, isolation: InterleavingPlan['isolation']): InterleavingPlan {
  if (kind === 'pglite' && isolation === 'database') {
    // Opening a PGlite folder takes ~0.3 s and only maxOpenDatabases (4) stay open, so nearly
    // every session here reopens one: 6 tenants (more than 4, so folders are evicted and
    // reopened all the time) and 300 sessions keep this case to about a minute.
    return {
      isolation, tenants: 6, requests: 300, concurrency: 8,
      note: 'PGlite folders: 6 tenants over 4 open databases',
    };
  }
  return { isolation, tenants: 50, requests: 10_000, concurrency: 20 };
}

for (const target of directTargets) {
  for (const isolation of isolations) {
    describe.skipIf(skipTarget(target))(`interleaving, ${isolation} on ${target.name}`, () => {
      const d = useLeakDeployment(target, { pool, maxOpenDatabases: 4 });
      interleavingCase(d, planFor(target.kind, isolation), target.name);
    });
  }
}

// Leak kit: interleaved sessions of 50 tenants over a pool of 5 connections on pglite, in every
// isolation, with failing and cancelled sessions among them (one file per driver, so the two
// drivers' runs take a worker each).
import { describe } from 'vitest';
import { isolations } from '../support/drivers.ts';
import { interleavingCase, leakPlan } from './kit/interleaving.ts';
import { directTargets, skipTarget, useLeakDeployment } from './support/targets.ts';

const target = directTargets.find((t) => t.kind === 'pglite') as (typeof directTargets)[number];

for (const isolation of isolations) {
  describe.skipIf(skipTarget(target))(`interleaving, ${isolation} on ${target.name}`, () => {
    const d = useLeakDeployment(target, {
      pool: { shared: 5, tenantDatabases: 5 }, maxOpenDatabases: 4,
    });
    interleavingCase(d, leakPlan(target.kind, isolation), target.name);
  });
}

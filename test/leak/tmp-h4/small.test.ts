import { describe } from 'vitest';
import { interleavingCase } from '../kit/interleaving.ts';
import { directTargets, useLeakDeployment } from '../support/targets.ts';
for (const target of directTargets) {
  for (const isolation of ['row', 'schema', 'database'] as const) {
    if (process.env.ONLY_T && process.env.ONLY_T !== `${isolation}-${target.name}`) continue;
    describe(`small ${isolation} ${target.name}`, () => {
      const d = useLeakDeployment(target, { pool: { shared: 5, tenantDatabases: 5 }, maxOpenDatabases: 4 });
      interleavingCase(d, { isolation, tenants: 6, requests: Number(process.env.N ?? 500), concurrency: 20 }, target.name);
    });
  }
}

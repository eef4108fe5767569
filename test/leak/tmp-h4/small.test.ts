import { describe } from 'vitest';
import { interleavingCase } from '../kit/interleaving.ts';
import { directTargets, useLeakDeployment } from '../support/targets.ts';
for (const target of directTargets) {
  for (const isolation of ['row', 'schema', 'database'] as const) {
    describe(`small ${isolation} ${target.name}`, () => {
      const d = useLeakDeployment(target, { pool: { shared: 5, tenantDatabases: 5 }, maxOpenDatabases: 4 });
      interleavingCase(d, { isolation, tenants: 6, requests: 500, concurrency: 20 }, target.name);
    });
  }
}

// Leak kit: no tenant context, in every isolation on both drivers, over a pool of one
// connection per database so the session after a tenant's runs on the same connection.
import { describe } from 'vitest';
import { isolations } from '../support/drivers.ts';
import { noContextCases } from './kit/no-context.ts';
import { directTargets, skipTarget, useLeakDeployment } from './support/targets.ts';

for (const target of directTargets) {
  describe.skipIf(skipTarget(target))(`no tenant context on ${target.name}`, () => {
    const d = useLeakDeployment(target, { pool: { shared: 1, tenantDatabases: 1 } });
    for (const isolation of isolations) {
      noContextCases(d, { isolation, prefix: `nc${isolation[0]}`, poolOfOne: true }, target.name);
    }
  });
}

// The Tenancy side: every operation goes through `withTenant` and the built-in documents store.
import { Tenancy } from '../../src/index.ts';
import type { BenchDeployment } from './deployment.ts';
import type { Workload } from './options.ts';
import { insertText, insertTitle, type BenchSide } from './side.ts';

/**
 * Opens a Tenancy of its own (no migration pass), so its pools start empty like the raw side's.
 * Each call resolves the tenant (catalog, through the tenant cache), opens a session and runs
 * one store call: exactly what an application embedding the library does.
 */
export async function openTenancySide(deployment: BenchDeployment): Promise<BenchSide> {
  const tenancy = await Tenancy.open(deployment.config, { migrate: false });
  return {
    name: 'tenancy',
    async run(workload: Workload, tenant: string, docId: string) {
      if (workload === 'read') {
        const found = await tenancy.withTenant(tenant, (t) => t.documents.get(docId));
        if (found === undefined) throw new Error(`tenancy read found no ${docId} in ${tenant}`);
      } else {
        await tenancy.withTenant(tenant, (t) =>
          t.documents.create({ id: docId, title: insertTitle, text: insertText }));
      }
    },
    close: () => tenancy.close(),
  };
}

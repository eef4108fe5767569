// Where the leak kit runs: PGlite, the Postgres server, and the server behind PgBouncer.
import { afterAll, beforeAll } from 'vitest';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { DriverKind } from '../../support/drivers.ts';
import {
  pgAvailable, runtimeRole, skipDriver, useDeployment, type Deployed,
} from '../../core/harness.ts';
import { pgbouncerAvailable, startPgBouncer, type Bouncer } from './pgbouncer.ts';

type RegionInput = NonNullable<ConfigInput['regions']>[string];

export interface LeakTarget {
  name: string;
  kind: DriverKind;
  /** Runtime sessions go through PgBouncer in transaction pooling mode. */
  pooler: boolean;
}

export const directTargets: readonly LeakTarget[] = [
  { name: 'pglite', kind: 'pglite', pooler: false },
  { name: 'pg', kind: 'pg', pooler: false },
];

export const poolerTarget: LeakTarget = { name: 'pg through PgBouncer', kind: 'pg', pooler: true };

export function skipTarget(target: LeakTarget): boolean {
  if (skipDriver(target.kind)) return true;
  return target.pooler && (!pgAvailable || !pgbouncerAvailable());
}

export interface LeakDeployment extends Deployed {
  /** The pooler in front of runtime sessions, for a pooler target. */
  readonly bouncer: Bouncer | undefined;
}

/**
 * A fresh deployment per describe block, tuned by `region`. For a pooler target a PgBouncer
 * is started first, with fewer server connections (`serverPool`) than the app's pool, and the
 * region's `runtimeDatabase` points at it; admin work still goes to the server directly.
 */
export function useLeakDeployment(target: LeakTarget, region: Partial<RegionInput>,
  serverPool = 2): LeakDeployment {
  const tuning: Partial<RegionInput> = { ...region };
  let bouncer: Bouncer | undefined;
  if (target.pooler) {
    beforeAll(async () => {
      bouncer = await startPgBouncer({ users: [runtimeRole], poolSize: serverPool });
      tuning.runtimeDatabase = bouncer.url(runtimeRole);
    });
    // Hooks after the tests run in reverse: the pooler stops once Tenancy has closed.
    afterAll(async () => {
      await bouncer?.stop();
    });
  }
  const deployed = useDeployment(target.kind, {}, tuning);
  return Object.assign(Object.create(deployed) as Deployed, {
    get bouncer() { return bouncer; },
  }) as LeakDeployment;
}

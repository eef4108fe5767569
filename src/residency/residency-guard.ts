// The residency guard: refuses to place a tenant's data, keys or backups outside its region.
import type { AuditContext, AuditLog } from '../access/audit-log.ts';
import { tenantResource } from '../access/audit-log.ts';
import { TenancyError } from '../errors.ts';
import type { RegionFault } from './region-marks.ts';

/** What is being placed: rows and tables, wrapped keys, or a backup archive. */
export type ResidencyItem = 'data' | 'keys' | 'backups';

export interface ResidencyCheck extends AuditContext {
  tenantId: string;
  /** The tenant's region. */
  required: string;
  /** Where the item would go. */
  target: string;
  what: ResidencyItem;
}

/**
 * Every check runs before anything is written. A refusal is recorded in the audit log as
 * `residency.refused` (outcome `denied`, code `RESIDENCY_VIOLATION`) and then thrown.
 */
export class ResidencyGuard {
  readonly #faults: readonly RegionFault[];

  constructor(private readonly audit: AuditLog, faults: readonly RegionFault[]) {
    this.#faults = faults;
  }

  /** Resources of a region that belong to another region (a misconfigured shared resource). */
  get faults(): readonly RegionFault[] {
    return this.#faults;
  }

  /**
   * Throws RESIDENCY_VIOLATION when the item's target is not the tenant's region, or when the
   * tenant's region's own resource for the item is another region's.
   *
   * @example
   * await guard.require({ tenantId: 'acme', required: 'eu', target: 'us', what: 'backups' });
   * // audit: residency.refused acme denied RESIDENCY_VIOLATION; throws
   */
  async require(check: ResidencyCheck): Promise<void> {
    const offending = this.offending(check);
    if (offending === undefined) return;
    const error = new TenancyError('RESIDENCY_VIOLATION', {
      tenantId: check.tenantId,
      params: { tenant: check.tenantId, required: check.required, offending,
        what: check.what },
    });
    await this.audit.record({
      actor: check.actor, requestId: check.requestId, action: 'residency.refused',
      outcome: 'denied', tenantId: check.tenantId, resource: tenantResource(check.tenantId),
      code: error.code,
      detail: `${check.what} for region ${check.required} refused in region ${offending}`,
    }).catch(() => undefined);
    throw error;
  }

  /** Checks a tenant's whole region: data, keys and backups all resolve to its own. */
  async requireHome(tenantId: string, region: string, context: AuditContext = {}):
    Promise<void> {
    for (const what of ['data', 'keys', 'backups'] as const) {
      await this.require({ ...context, tenantId, required: region, target: region, what });
    }
  }

  /** The region that would really receive the item, when it is not the required one. */
  offending(check: Pick<ResidencyCheck, 'required' | 'target' | 'what'>): string | undefined {
    if (check.target !== check.required) return check.target;
    const fault = this.#faults.find((f) => f.region === check.target && f.what === check.what);
    return fault?.owner;
  }
}

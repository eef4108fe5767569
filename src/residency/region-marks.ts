// Which region each region's resources really belong to: a mark in every region's database and
// a comparison of root keys, so a config that points two regions at one resource is caught.
import type { KeyProviderConfig, TenancyConfig } from '../config/schema.ts';
import type { KeyProvider } from '../crypto/key-provider.ts';
import type { RegionStorage } from '../storage/region.ts';
import type { TenantKeys } from '../tenants/tenant-keys.ts';
import { storeLocation } from './backup-places.ts';

/** A region whose resource belongs to (or is shared with) another region. */
export interface RegionFault {
  /** The region the resource was configured for. */
  region: string;
  /** The region that already owns it. */
  owner: string;
  what: 'data' | 'keys' | 'backups';
}

const markSql = `
CREATE TABLE IF NOT EXISTS tenancy.region_mark (
  only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
  region text NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now()
);`;

/**
 * Marks each region's shared database with the region's name the first time it opens, and
 * reports a database whose mark names another region: two regions configured onto one database
 * would otherwise mix their tenants' data without anything noticing.
 */
async function databaseFaults(regions: ReadonlyMap<string, RegionStorage>):
  Promise<RegionFault[]> {
  const faults: RegionFault[] = [];
  for (const [name, region] of regions) {
    const owner = await region.driver.shared.transaction('admin', async (tx) => {
      await tx.exec(markSql);
      await tx.query(
        'INSERT INTO tenancy.region_mark (region) VALUES ($1) ON CONFLICT (only_one) DO NOTHING',
        [name]);
      const found = await tx.query<{ region: string }>('SELECT region FROM tenancy.region_mark');
      return found.rows[0]?.region ?? name;
    });
    if (owner !== name) faults.push({ region: name, owner, what: 'data' });
  }
  return faults;
}

/**
 * What names a region's root key without asking a remote service: the key itself for a local
 * provider (two files holding one key are one key), the configured key elsewhere.
 */
async function rootIdentity(config: KeyProviderConfig, provider: KeyProvider):
  Promise<string | undefined> {
  switch (config.provider) {
    case 'local':
      return provider.currentRootKeyId().then((id) => `local:${id}`, () => undefined);
    case 'pkcs11':
      return `pkcs11:${config.module}:${config.tokenLabel}:${config.keyLabel}`;
    case 'aws-kms':
      return `aws-kms:${config.endpoint ?? ''}:${config.awsRegion}:${config.keyId}`;
    case 'vault-transit':
      return `vault-transit:${config.address}:${config.mount}:${config.keyName}`;
  }
}

/**
 * Two regions whose key providers wrap under the same root key share one key provider: a key
 * "in" one of them is as much in the other.
 */
async function keyFaults(config: TenancyConfig, keys: TenantKeys): Promise<RegionFault[]> {
  const faults: RegionFault[] = [];
  const seen = new Map<string, string>();
  for (const { region, provider } of keys.regions) {
    const regionConfig = config.regions[region];
    if (regionConfig === undefined) continue;
    const id = await rootIdentity(regionConfig.keys, provider);
    if (id === undefined) continue;
    const owner = seen.get(id);
    if (owner === undefined) seen.set(id, region);
    else faults.push({ region, owner, what: 'keys' });
  }
  return faults;
}

/** Two regions whose archives would land in one folder or one bucket prefix. */
function backupFaults(config: TenancyConfig, dataDir: string): RegionFault[] {
  const faults: RegionFault[] = [];
  const seen = new Map<string, string>();
  for (const [region, regionConfig] of Object.entries(config.regions)) {
    const backups = regionConfig.backups;
    const id = backups.store === 's3'
      ? `s3:${backups.endpoint ?? ''}:${backups.bucket}:${backups.prefix}`
      : `folder:${storeLocation(backups, dataDir, region)}`;
    const owner = seen.get(id);
    if (owner === undefined) seen.set(id, region);
    else faults.push({ region, owner, what: 'backups' });
  }
  return faults;
}

/** Every resource that two regions share, found when Tenancy opens. */
export async function regionFaults(config: TenancyConfig, dataDir: string,
  regions: ReadonlyMap<string, RegionStorage>, keys: TenantKeys): Promise<RegionFault[]> {
  return [...await databaseFaults(regions), ...await keyFaults(config, keys),
    ...backupFaults(config, dataDir)];
}

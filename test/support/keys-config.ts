// A region's `keys` block as the config loader hands it over: validated, secrets wrapped.
import { configSchema, type KeyProviderConfig } from '../../src/config/schema.ts';

export function keysConfig(keys: unknown): KeyProviderConfig {
  const config = configSchema.parse({ regions: { eu: { database: 'embedded', keys } } });
  return (config.regions.eu as { keys: KeyProviderConfig }).keys;
}

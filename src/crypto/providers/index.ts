// Opens the key provider a region's config names; each kind's code loads only when it is used.
import type { KeyProviderConfig } from '../../config/schema.ts';
import type { KeyProvider } from '../key-provider.ts';

export interface ProviderPlace {
  readonly dataDir: string;
  readonly region: string;
}

/**
 * The `pkcs11` kind loads a native addon and `aws-kms` a large SDK, so they are imported only
 * for a region that names them: a deployment on the local default never loads either.
 */
export async function createKeyProvider(
  config: KeyProviderConfig, where: ProviderPlace,
): Promise<KeyProvider> {
  switch (config.provider) {
    case 'local': {
      const { LocalKeyProvider } = await import('./local/local-provider.ts');
      return LocalKeyProvider.open(config, where);
    }
    case 'pkcs11': {
      const { Pkcs11KeyProvider } = await import('./pkcs11/pkcs11-provider.ts');
      return Pkcs11KeyProvider.open(config);
    }
    case 'aws-kms': {
      const { AwsKmsKeyProvider } = await import('./aws-kms/aws-kms-provider.ts');
      return AwsKmsKeyProvider.open(config);
    }
    case 'vault-transit': {
      const { VaultTransitKeyProvider } = await import('./vault-transit/vault-transit-provider.ts');
      return VaultTransitKeyProvider.open(config);
    }
  }
}

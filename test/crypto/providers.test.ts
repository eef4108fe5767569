// The provider conformance suite, run for local, pkcs11 (real SoftHSM2) and the two services
// that cannot be reached here, aws-kms and vault-transit, against loopback test doubles.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyProvider } from '../../src/crypto/providers/index.ts';
import { keysConfig } from '../support/keys-config.ts';
import { KmsDouble } from '../support/kms-double.ts';
import { createSoftHsmToken, softHsmModule } from '../support/softhsm.ts';
import { VaultTransitDouble } from '../support/vault-transit-double.ts';
import { providerConformance } from './provider-conformance.ts';

providerConformance('local', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tenancy-keys-'));
  const config = keysConfig({ provider: 'local' });
  return {
    open: () => createKeyProvider(config, { dataDir, region: 'eu' }),
    secrets: [],
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
});

providerConformance('pkcs11 on SoftHSM2', async () => {
  const module = softHsmModule();
  if (module === undefined) return undefined;
  const token = await createSoftHsmToken(module);
  const config = keysConfig({
    provider: 'pkcs11', module, tokenLabel: token.tokenLabel, pin: token.pin,
  });
  return {
    open: () => createKeyProvider(config, { dataDir: tmpdir(), region: 'eu' }),
    secrets: [token.pin],
    cleanup: () => token.cleanup(),
  };
});

providerConformance('aws-kms against a loopback KMS double', async () => {
  const credentials = { accessKeyId: 'AKIDTENANCYTEST', secretAccessKey: 'kms-double-secret-42' };
  const double = await KmsDouble.start({ ...credentials, region: 'eu-west-1' });
  double.createKey('alias/tenancy-root');
  const config = keysConfig({
    provider: 'aws-kms', keyId: 'alias/tenancy-root', awsRegion: 'eu-west-1',
    endpoint: double.url, ...credentials,
  });
  return {
    open: () => createKeyProvider(config, { dataDir: tmpdir(), region: 'eu' }),
    secrets: [credentials.secretAccessKey],
    cleanup: () => double.close(),
  };
});

providerConformance('vault-transit against a loopback Transit double', async () => {
  const token = 'hvs.vault-double-token-7';
  const double = await VaultTransitDouble.start(token);
  const config = keysConfig({
    provider: 'vault-transit', address: double.url, token, keyName: 'tenancy-root',
  });
  return {
    open: () => createKeyProvider(config, { dataDir: tmpdir(), region: 'eu' }),
    secrets: [token],
    cleanup: () => double.close(),
  };
});

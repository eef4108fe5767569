// A fresh SoftHSM2 token in a temp folder for PKCS#11 tests (SoftHSM2 comes from Debian).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const modulePaths = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
];

/** The SoftHSM2 module on this machine, or undefined. Under CI=true a missing one is an error. */
export function softHsmModule(): string | undefined {
  const found = modulePaths.find((path) => existsSync(path));
  if (found === undefined && process.env.CI === 'true') {
    throw new Error('SoftHSM2 is not installed; .ci/run installs the softhsm2 package');
  }
  return found;
}

export interface SoftHsmToken {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: string;
  /** Path of the token folder, to look at what the token stores. */
  readonly folder: string;
  cleanup(): Promise<void>;
}

/**
 * Initializes a token in its own folder and points SOFTHSM2_CONF at it. SoftHSM2 reads that
 * variable when the module initializes, so a process uses one such token at a time.
 */
export async function createSoftHsmToken(module: string, label = 'tenancy-test'):
  Promise<SoftHsmToken> {
  const folder = await mkdtemp(join(tmpdir(), 'tenancy-softhsm-'));
  const tokens = join(folder, 'tokens');
  await mkdir(tokens);
  const conf = join(folder, 'softhsm2.conf');
  await writeFile(conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const pin = `pin-${Math.random().toString(36).slice(2, 10)}`;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  await run('softhsm2-util', [
    '--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`,
  ], { env });
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    module, tokenLabel: label, pin, folder: tokens,
    async cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      await rm(folder, { recursive: true, force: true });
    },
  };
}

// Where the local provider's root key versions come from: numbered key files, or env vars.
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { TenancyError } from '../../../errors.ts';
import { formatRootKey, parseRootKey } from '../../root-key-text.ts';

/** A source of root key versions 1..n; version 1 is the base file (or variable). */
export interface RootKeySource {
  /** Reads version `n`, or undefined when it does not exist (yet). */
  read(version: number): Buffer | undefined;
  /** Creates version `n` with fresh random bytes; false when it exists already. */
  create(version: number): boolean;
  /** For errors: which file or variable, never its content. */
  describe(version: number): string;
}

/** `<file>` is version 1, `<file>.2`, `<file>.3`, … the rotated ones. */
export class KeyFileSource implements RootKeySource {
  constructor(private readonly file: string) {}

  describe(version: number): string {
    return version === 1 ? this.file : `${this.file}.${version}`;
  }

  read(version: number): Buffer | undefined {
    const path = this.describe(version);
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TenancyError('ROOT_KEY_INVALID', {
        params: { detail: `cannot read key file ${path}` }, cause: err,
      });
    }
    // A key others can read is no longer only ours: refuse rather than use it.
    if ((mode & 0o077) !== 0) {
      throw new TenancyError('ROOT_KEY_INVALID', {
        params: { detail: `key file ${path} is readable by group or others (chmod 600 it)` },
      });
    }
    return parseRootKey(readFileSync(path, 'utf8'), `key file ${path}`);
  }

  create(version: number): boolean {
    const path = this.describe(version);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let fd: number;
    try {
      // `wx`: two processes starting at once cannot both write a first key.
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new TenancyError('ROOT_KEY_INVALID', {
        params: { detail: `cannot create key file ${path}` }, cause: err,
      });
    }
    try {
      writeSync(fd, formatRootKey(randomBytes(32)));
    } finally {
      closeSync(fd);
    }
    return true;
  }
}

/** `<NAME>` is version 1, `<NAME>_V2`, `<NAME>_V3`, … the rotated ones. */
export class EnvVarSource implements RootKeySource {
  constructor(private readonly name: string, private readonly env: NodeJS.ProcessEnv) {}

  describe(version: number): string {
    return `env var ${version === 1 ? this.name : `${this.name}_V${version}`}`;
  }

  read(version: number): Buffer | undefined {
    const value = this.env[version === 1 ? this.name : `${this.name}_V${version}`];
    if (value === undefined || value === '') {
      if (version === 1) {
        throw new TenancyError('ROOT_KEY_INVALID', {
          params: { detail: `${this.describe(1)} is not set` },
        });
      }
      return undefined;
    }
    return parseRootKey(value, this.describe(version));
  }

  create(version: number): boolean {
    throw new TenancyError('KEY_ROTATION_REFUSED', {
      params: { detail: `the root key comes from the environment: set ` +
        `${this.describe(version)} to a new key and restart` },
    });
  }
}

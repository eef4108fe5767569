// One loaded PKCS#11 library per path in this process, initialized once and shared by leases.
import pkcs11js from 'pkcs11js';
import { TenancyError } from '../../../errors.ts';

export type Pkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
export { pkcs11js };

interface Loaded {
  readonly lib: Pkcs11;
  refs: number;
}

// A Cryptoki library may be initialized only once per process, so two regions (or two
// providers in one test) that name the same module share it; the last lease finalizes it.
const loaded = new Map<string, Loaded>();

export interface ModuleLease {
  readonly lib: Pkcs11;
  release(): void;
}

export function acquireModule(path: string): ModuleLease {
  let entry = loaded.get(path);
  if (entry === undefined) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(path);
    } catch (err) {
      throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
        params: { detail: 'the PKCS#11 module could not be loaded' }, cause: err,
      });
    }
    try {
      // Sessions run on libuv's worker threads, so the library must do its own locking.
      lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      lib.close();
      throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
        params: { detail: 'the PKCS#11 module failed to initialize' }, cause: err,
      });
    }
    entry = { lib, refs: 0 };
    loaded.set(path, entry);
  }
  entry.refs += 1;
  const held = entry;
  let released = false;
  return {
    lib: held.lib,
    release() {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs > 0) return;
      loaded.delete(path);
      try {
        held.lib.C_Finalize();
      } finally {
        held.lib.close();
      }
    },
  };
}

/** The CKR_* code of a PKCS#11 error, or undefined for anything else. */
export function pkcs11Code(err: unknown): number | undefined {
  if (err instanceof pkcs11js.Pkcs11Error) return err.code;
  return undefined;
}

const unavailableCodes = new Set<number>([
  pkcs11js.CKR_DEVICE_ERROR, pkcs11js.CKR_DEVICE_MEMORY, pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_SESSION_CLOSED, pkcs11js.CKR_SESSION_HANDLE_INVALID, pkcs11js.CKR_SESSION_COUNT,
  pkcs11js.CKR_TOKEN_NOT_PRESENT, pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_USER_NOT_LOGGED_IN, pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
]);

/** True when the error says the token or session is gone, not that the data is bad. */
export function isUnavailable(err: unknown): boolean {
  const code = pkcs11Code(err);
  return code === undefined || unavailableCodes.has(code);
}

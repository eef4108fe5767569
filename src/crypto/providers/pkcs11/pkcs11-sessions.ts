// A small pool of logged-in sessions on one token: one operation per session at a time.
import type { Secret } from '../../../config/secret.ts';
import { TenancyError } from '../../../errors.ts';
import { pkcs11Code, pkcs11js, type Pkcs11 } from './pkcs11-module.ts';

type Handle = Buffer;

const maxSessions = 4;

/** Finds the one slot whose token has `label`; two tokens with one label are refused. */
export function findTokenSlot(lib: Pkcs11, label: string): Handle {
  const matches = lib.C_GetSlotList(true)
    .filter((slot) => lib.C_GetTokenInfo(slot).label.trimEnd() === label);
  const [slot, ...others] = matches;
  if (slot === undefined) {
    throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
      params: { detail: 'no PKCS#11 token has the configured label' },
    });
  }
  if (others.length > 0) {
    throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
      params: { detail: 'more than one PKCS#11 token has the configured label' },
    });
  }
  return slot;
}

/**
 * An operation (EncryptInit … Encrypt) holds its session from start to end, since PKCS#11 keeps
 * one active operation per session. Sessions stay open until close: the login belongs to the
 * application and ends when its last session on the token closes.
 */
export class SessionPool {
  readonly #lib: Pkcs11;
  readonly #slot: Handle;
  readonly #pin: Secret;
  readonly #idle: Handle[] = [];
  readonly #waiting: { resolve: (s: Handle) => void; reject: (e: unknown) => void }[] = [];
  #open = 0;
  #loggedIn = false;

  constructor(lib: Pkcs11, slot: Handle, pin: Secret) {
    this.#lib = lib;
    this.#slot = slot;
    this.#pin = pin;
  }

  /** Opens the first session and logs in, so a wrong PIN fails at open, not at first use. */
  start(): void {
    this.#idle.push(this.#openSession());
  }

  async with<T>(operation: (session: Handle) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    let healthy = true;
    try {
      return await operation(session);
    } catch (err) {
      const code = pkcs11Code(err);
      if (code === pkcs11js.CKR_USER_NOT_LOGGED_IN) this.#loggedIn = false;
      healthy = code !== pkcs11js.CKR_SESSION_HANDLE_INVALID
        && code !== pkcs11js.CKR_SESSION_CLOSED && code !== pkcs11js.CKR_DEVICE_REMOVED;
      throw err;
    } finally {
      this.#release(session, healthy);
    }
  }

  /** Closes every session; called once no operation is running. */
  closeAll(): void {
    for (const session of this.#idle.splice(0)) this.#closeQuietly(session);
    this.#open = 0;
  }

  async #acquire(): Promise<Handle> {
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      try {
        if (!this.#loggedIn) this.#login(idle);
      } catch (err) {
        this.#idle.push(idle);
        throw err;
      }
      return idle;
    }
    if (this.#open < maxSessions) return this.#openSession();
    return new Promise<Handle>((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #release(session: Handle, healthy: boolean): void {
    const next = this.#waiting.shift();
    if (healthy) {
      if (next !== undefined) next.resolve(session);
      else this.#idle.push(session);
      return;
    }
    this.#closeQuietly(session);
    this.#open -= 1;
    if (next === undefined) return;
    try {
      next.resolve(this.#openSession());
    } catch (err) {
      next.reject(err);
    }
  }

  #openSession(): Handle {
    let session: Handle;
    try {
      session = this.#lib.C_OpenSession(
        this.#slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    } catch (err) {
      throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
        params: { detail: 'a PKCS#11 session could not be opened' }, cause: err,
      });
    }
    this.#open += 1;
    try {
      if (!this.#loggedIn) this.#login(session);
    } catch (err) {
      this.#closeQuietly(session);
      this.#open -= 1;
      throw err;
    }
    return session;
  }

  #login(session: Handle): void {
    try {
      this.#lib.C_Login(session, pkcs11js.CKU_USER, this.#pin.reveal());
    } catch (err) {
      if (pkcs11Code(err) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
        // The library's error names only the CKR code; the PIN is never part of it.
        const refused = pkcs11Code(err) === pkcs11js.CKR_PIN_INCORRECT
          || pkcs11Code(err) === pkcs11js.CKR_PIN_LOCKED;
        throw new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
          params: { detail: refused ? 'the token refused the PIN' : 'login to the token failed' },
          cause: err,
        });
      }
    }
    this.#loggedIn = true;
  }

  #closeQuietly(session: Handle): void {
    try {
      this.#lib.C_CloseSession(session);
    } catch {
      // A session that is already gone needs no closing.
    }
  }
}

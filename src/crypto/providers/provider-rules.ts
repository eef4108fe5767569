// Rules every key provider shares: what may be wrapped, what binds a wrap, when calls may run.
import { TenancyError } from '../../errors.ts';
import { frame } from '../framing.ts';
import type { WrapContext } from '../key-provider.ts';

/** Master keys are AES-256 keys; anything else is a caller's bug, refused before a round trip. */
export function assertWrappableKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== 32) {
    throw new TenancyError('KEY_INVALID', { params: { detail: 'a wrapped key must be 32 bytes' } });
  }
}

/**
 * The bytes a provider authenticates with each wrap: provider kind, root key version, tenant and
 * region. Providers that take associated data (PKCS#11 GCM) use these bytes directly; the others
 * pass the same fields in their own shape (an encryption context, a derivation context).
 */
export function wrapBinding(kind: string, rootKeyId: string, context: WrapContext): Buffer {
  return frame('tenancy/root-wrap/v1', kind, rootKeyId, context.tenantId, context.region);
}

/**
 * The same binding without the root key version, for services that keep versions themselves
 * (Vault derives a key per context under whatever version it holds).
 */
export function contextBinding(kind: string, context: WrapContext): Buffer {
  return frame('tenancy/root-wrap-context/v1', kind, context.tenantId, context.region);
}

/**
 * Guards a provider's calls against use after close, and lets close wait for calls in flight
 * so a session or connection is never torn down under a running operation.
 */
export class ProviderGate {
  #closed = false;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  get closed(): boolean {
    return this.#closed;
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new TenancyError('KEY_PROVIDER_CLOSED');
    this.#inFlight += 1;
    try {
      return await operation();
    } finally {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }

  /** Refuses new calls, waits for running ones, then releases resources once. */
  close(release: () => Promise<void>): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      }
      await release();
    })();
    return this.#closing;
  }
}

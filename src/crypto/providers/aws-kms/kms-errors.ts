// What a KMS error means to a caller: this blob will not open here, or KMS cannot be used now.
import { TenancyError } from '../../../errors.ts';

// Answers about the blob or the key it names: retrying will not help, so they are unwrap
// failures. A disabled or deleted key is a retired root in our words.
const unwrapRefusals = new Set([
  'InvalidCiphertextException', 'IncorrectKeyException', 'NotFoundException',
  'DisabledException', 'KMSInvalidStateException', 'InvalidKeyUsageException',
  'InvalidArnException',
]);

function errorName(err: unknown): string {
  if (err instanceof Error && /^[A-Za-z]{1,80}$/.test(err.name)) return err.name;
  return 'Error';
}

/** For a failed Decrypt: KEY_UNWRAP_FAILED or KEY_PROVIDER_UNAVAILABLE. */
export function unwrapError(err: unknown, tenantId: string): TenancyError {
  if (unwrapRefusals.has(errorName(err))) {
    return new TenancyError('KEY_UNWRAP_FAILED', { tenantId, cause: err });
  }
  return unavailableError('Decrypt', err);
}

/** The exception's type name is kept (it helps an operator); its message and request are not. */
export function unavailableError(operation: string, err: unknown): TenancyError {
  return new TenancyError('KEY_PROVIDER_UNAVAILABLE', {
    params: { detail: `KMS ${operation} failed (${errorName(err)})` }, cause: err,
  });
}

export function isNamed(err: unknown, name: string): boolean {
  return errorName(err) === name;
}

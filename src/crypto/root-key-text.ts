// Reads a root key written as text: base64 of exactly 32 bytes, as key files and env vars hold it.
import { TenancyError } from '../errors.ts';

const base64 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * The 32 key bytes of `text` (surrounding whitespace allowed). Anything else, a short key above
 * all, is refused: a root key that silently degrades is worse than no start. `where` names the
 * source in the error, never the value.
 */
export function parseRootKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (!base64.test(trimmed)) {
    throw new TenancyError('ROOT_KEY_INVALID', {
      params: { detail: `${where} must hold base64 of exactly 32 bytes` },
    });
  }
  return Buffer.from(trimmed, 'base64');
}

export function formatRootKey(key: Buffer): string {
  return `${key.toString('base64')}\n`;
}

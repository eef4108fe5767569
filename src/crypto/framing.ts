// Length-prefixed framing of the strings that bind a key or a value to its place.

/**
 * `frame('acme', 'notes')` → `00000004 61636d65 00000005 6e6f746573`: each part as a 4-byte
 * big-endian length and its UTF-8 bytes, so no two different lists of parts frame alike
 * (`'ab','c'` and `'a','bc'` differ).
 */
export function frame(...parts: readonly (string | Uint8Array)[]): Buffer {
  const bytes = parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part));
  const out = Buffer.allocUnsafe(bytes.reduce((sum, b) => sum + 4 + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.writeUInt32BE(b.length, at);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

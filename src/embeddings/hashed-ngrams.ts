// A local embedding function: hashed word n-grams, L2-normalised. No model, no network.

/** Options of `localEmbedding`; the defaults suit search over a few thousand documents. */
export interface LocalEmbeddingOptions {
  /** Length of the vector (default 384). */
  dimensions?: number;
  /** Longest word n-gram hashed (default 2: words and word pairs). */
  maxN?: number;
}

// Words so common in English prose that hashing them only adds the same direction to every text.
const stopWords = new Set((
  'a an and are as at be but by for from had has have he her his i if in into is it its ' +
  'of on or our she so that the their them then there they this to was we were which who ' +
  'will with you your not no all been one would what when do'
).split(' '));

/** Lower-cased words and numbers, in order, with the stop words left out. */
export function words(text: string): string[] {
  const found = text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
  return found.filter((word) => !stopWords.has(word));
}

// FNV-1a over UTF-16 code units: stable across runs and platforms, which a model id needs.
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Embeds `text` as counts of its word n-grams hashed into `dimensions` buckets, with a sign from
 * the hash (so collisions cancel on average rather than pile up), damped with log(1 + count),
 * and scaled to unit length. A text without words gives the zero vector.
 *
 * @example
 * localEmbedding('Roast the coffee beans slowly')  // 384 numbers, length 1
 */
export function localEmbedding(text: string, options: LocalEmbeddingOptions = {}): number[] {
  const dimensions = options.dimensions ?? 384;
  const maxN = options.maxN ?? 2;
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    throw new RangeError('dimensions must be a positive integer');
  }
  const counts = new Map<string, number>();
  const tokens = words(text);
  for (let n = 1; n <= maxN; n += 1) {
    for (let i = 0; i + n <= tokens.length; i += 1) {
      const gram = tokens.slice(i, i + n).join(' ');
      counts.set(gram, (counts.get(gram) ?? 0) + 1);
    }
  }
  const vector = new Array<number>(dimensions).fill(0);
  for (const [gram, count] of counts) {
    const hash = fnv1a(gram);
    const bucket = hash % dimensions;
    const sign = (fnv1a(`#${gram}`) & 1) === 0 ? 1 : -1;
    vector[bucket] = (vector[bucket] as number) + sign * Math.log1p(count);
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}

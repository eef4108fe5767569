// Maximal marginal relevance: picks results that are close to the query and far from each other.

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Indexes into `candidates`, in the order chosen: each step takes the candidate with the best
 * `lambda * sim(query, c) - (1 - lambda) * max sim(c, chosen)`, cosine throughout. Ties keep the
 * candidates' order, so the result is the same on every driver for the same candidates.
 */
export function selectMmr(
  query: readonly number[],
  candidates: readonly (readonly number[])[],
  k: number,
  lambda: number,
): number[] {
  const relevance = candidates.map((c) => cosine(query, c));
  const redundancy = candidates.map(() => -Infinity);
  const chosen: number[] = [];
  const left = new Set(candidates.keys());
  while (chosen.length < k && left.size > 0) {
    let best = -1;
    let bestScore = -Infinity;
    for (const i of left) {
      const penalty = chosen.length === 0 ? 0 : (redundancy[i] as number);
      const score = lambda * (relevance[i] as number) - (1 - lambda) * penalty;
      if (score > bestScore) [best, bestScore] = [i, score];
    }
    if (best < 0) break;
    chosen.push(best);
    left.delete(best);
    const picked = candidates[best] as readonly number[];
    for (const i of left) {
      redundancy[i] = Math.max(redundancy[i] as number, cosine(candidates[i] as number[], picked));
    }
  }
  return chosen;
}

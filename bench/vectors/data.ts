// Synthetic embeddings for the vector bench: clustered like real ones, seeded, unit length.
import { random as generator } from '../../test/vectors/support.ts';

function normalised(values: number[]): number[] {
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

/**
 * `count` unit vectors around `clusters` random centres (spread `noise`): text embeddings
 * gather by topic, and uniform noise in 384 dimensions would make every neighbour equally far.
 */
export function clusteredVectors(count: number, dimension: number, seed: number,
  clusters = 200, noise = 0.6): number[][] {
  const next = generator(seed);
  const gauss = (): number => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const centres = Array.from({ length: clusters }, () =>
    normalised(Array.from({ length: dimension }, gauss)));
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(next() * clusters)] as number[];
    return normalised(centre.map((x) => x + (noise / Math.sqrt(dimension)) * gauss() * 3));
  });
}

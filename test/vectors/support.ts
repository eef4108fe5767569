// Fixtures of the vector suites: seeded random vectors and the real documents of shared/data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A small seeded generator (mulberry32), so every run and driver sees the same vectors. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` vectors of `dimension` components in [-1, 1), from `seed`. */
export function randomVectors(count: number, dimension: number, seed: number): number[][] {
  const next = random(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: dimension }, () => next() * 2 - 1));
}

export interface RealDocument {
  id: string;
  title: string;
  text: string;
}

/** The data folder beside the checkout: ../shared/data (see its SOURCES.md). */
export const dataFolder = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');

/** The documents of one data-set tenant, read from its JSON Lines file. */
export function realDocuments(name: string): RealDocument[] {
  const file = join(dataFolder, 'documents', `${name}.jsonl`);
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RealDocument);
}

/** A passage of a document to search with: `words` words from the middle of its text. */
export function passage(doc: RealDocument, words = 40): string {
  const all = doc.text.split(/\s+/).filter((w) => w !== '');
  const start = Math.max(0, Math.floor(all.length / 2) - Math.floor(words / 2));
  return all.slice(start, start + words).join(' ');
}

// Checks one embedding before it reaches SQL: numbers only, finite as float32, right dimension.
import { TenancyError } from '../errors.ts';

// The largest float32; anything past it would be stored as infinity.
const float32Max = 3.4028234663852886e38;

/**
 * Returns the embedding as numbers, or throws EMBEDDING_NOT_FINITE for a component that is not
 * a finite number in float32 range, EMBEDDING_DIMENSION_MISMATCH for the wrong length, and
 * EMBEDDING_ZERO for a vector without direction. Errors name positions, never values.
 */
export function checkEmbedding(values: readonly unknown[], dimension?: number): number[] {
  if (dimension !== undefined && values.length !== dimension) {
    throw new TenancyError('EMBEDDING_DIMENSION_MISMATCH', {
      params: { detail: `expected ${dimension} components, got ${values.length}` },
    });
  }
  let nonZero = false;
  const checked = values.map((value, index) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > float32Max) {
      throw new TenancyError('EMBEDDING_NOT_FINITE', {
        params: { detail: `component ${index} is not a finite number` },
      });
    }
    if (Math.fround(value) !== 0) nonZero = true;
    return value;
  });
  if (!nonZero) throw new TenancyError('EMBEDDING_ZERO');
  return checked;
}


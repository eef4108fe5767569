// The PostgreSQL minor releases that carry every known fix for a row-level security bypass.

/**
 * Known ways past row-level security, and the releases that fixed them:
 *
 * - CVE-2023-2455, row security policies disregard user ID changes after inlining:
 *   fixed in 15.3, 14.8, 13.11 (and 12.15, 11.20).
 * - CVE-2023-39418, MERGE fails to enforce UPDATE or SELECT row security policies:
 *   15 only (MERGE came with 15), fixed in 15.4.
 * - CVE-2024-10976, row security below e.g. subqueries disregards user ID changes:
 *   fixed in 17.1, 16.5, 15.9, 14.14, 13.17 (and 12.21).
 * - CVE-2025-8713, optimizer statistics expose sampled rows that a policy hides (partitions,
 *   inheritance) and rows of views: fixed in 17.6, 16.10, 15.14, 14.19, 13.22.
 *
 * 18.0 shipped with all of them. Sources: postgresql.org/support/security and the OSV records
 * of each CVE. The May 2026 release (18.4, 17.10, 16.14, 15.18, 14.23) fixed eleven CVEs, none
 * of them a row security bypass. Majors before 13 get no fixes any more and fail the check.
 */
export const rlsFixedMinor: Readonly<Record<number, number>> = {
  13: 22,
  14: 19,
  15: 14,
  16: 10,
  17: 6,
  18: 0,
};

export const oldestCheckedMajor = 13;

/** A version from `server_version_num`: 150020 → { major: 15, minor: 20 }. */
export function splitVersion(num: number): { major: number; minor: number } {
  return { major: Math.floor(num / 10000), minor: num % 10000 };
}

/**
 * What is missing for `num`, or undefined when every known fix is in. A major newer than the
 * table is taken to carry the fixes of the ones before it.
 */
export function missingRlsFixes(num: number): string | undefined {
  const { major, minor } = splitVersion(num);
  if (major < oldestCheckedMajor) {
    return `PostgreSQL ${major} is out of support and lacks row security fixes; use 13.22 or newer`;
  }
  const needed = rlsFixedMinor[major];
  if (needed === undefined || minor >= needed) return undefined;
  return `lacks known row security fixes; upgrade to ${major}.${needed} or newer`;
}

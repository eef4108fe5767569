// The server-version check's table: which PostgreSQL releases carry every known fix for a
// row-level security bypass, and how the doctor words a release that does not.
import { describe, expect, it } from 'vitest';
import {
  missingRlsFixes, oldestCheckedMajor, rlsFixedMinor, splitVersion,
} from '../../src/access/doctor/rls-fixes.ts';
import { serverLabel, serverVersionCheck } from '../../src/access/doctor/server-version-check.ts';
import type { CheckTarget } from '../../src/access/doctor/types.ts';
import type { Queryable, QueryResult } from '../../src/storage/driver.ts';

const num = (major: number, minor: number): number => major * 10000 + minor;

describe('row security fixes by release', () => {
  it('reads server_version_num as major and minor', () => {
    expect(splitVersion(150020)).toEqual({ major: 15, minor: 20 });
    expect(splitVersion(180000)).toEqual({ major: 18, minor: 0 });
    expect(splitVersion(130022)).toEqual({ major: 13, minor: 22 });
  });

  it('passes each supported major from its last row-security fix on, and fails the one before', () => {
    expect(rlsFixedMinor).toEqual({ 13: 22, 14: 19, 15: 14, 16: 10, 17: 6, 18: 0 });
    for (const [majorText, minor] of Object.entries(rlsFixedMinor)) {
      const major = Number(majorText);
      expect(missingRlsFixes(num(major, minor))).toBeUndefined();
      expect(missingRlsFixes(num(major, minor + 7))).toBeUndefined();
      if (minor > 0) {
        expect(missingRlsFixes(num(major, minor - 1))).toBe(
          `lacks known row security fixes; upgrade to ${major}.${minor} or newer`);
      }
    }
  });

  it('fails releases before each CVE fix: 15.2 (CVE-2023-2455), 15.3 (MERGE), 17.5, 16.9', () => {
    for (const [major, minor] of [[15, 2], [15, 3], [15, 13], [17, 0], [17, 5], [16, 9], [14, 18],
      [13, 21]] as const) {
      expect(missingRlsFixes(num(major, minor)), `${major}.${minor}`).toMatch(/^lacks known/);
    }
  });

  it('fails majors out of support, and takes a newer major to carry the fixes', () => {
    expect(oldestCheckedMajor).toBe(13);
    expect(missingRlsFixes(num(12, 22))).toBe(
      'PostgreSQL 12 is out of support and lacks row security fixes; use 13.22 or newer');
    expect(missingRlsFixes(num(9, 6))).toMatch(/^PostgreSQL 9 is out of support/);
    expect(missingRlsFixes(num(19, 0))).toBeUndefined();
  });

  it('labels the server and the embedded build', () => {
    expect(serverLabel('15.20', 'PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu'))
      .toBe('PostgreSQL 15.20');
    expect(serverLabel('18.6', 'PostgreSQL 18.6 (PGlite 0.5.14) on x86_64-pc-linux-gnu'))
      .toBe('PostgreSQL 18.6 (PGlite 0.5.14)');
  });
});

/** A database that answers the version query as a server of `version` would. */
function answering(numText: string, version: string): Queryable {
  const query = async <R extends object>(): Promise<QueryResult<R>> => ({
    rows: [{ num: numText, version, full: `PostgreSQL ${version} on x86_64-pc-linux-gnu` }] as
      unknown as R[],
    rowCount: 1,
  });
  return { query, exec: async () => {} } as unknown as Queryable;
}

function target(tx: Queryable, clusterRoot = true): CheckTarget {
  return {
    region: 'eu', database: 'tenancy', driver: 'pg', clusterRoot, rolesHere: true, layouts: [],
    tables: [], tx,
    role: { name: 'tenancy_runtime', exists: true, superuser: false, bypassRls: false,
      createRole: false, escalations: [] },
  };
}

describe('the server-version check', () => {
  it('fails a server that lacks a fix, naming it and the release to move to', async () => {
    const result = await serverVersionCheck.run(target(answering('150013', '15.13')));
    expect(result).toEqual({
      checked: 1,
      findings: [{ region: 'eu', database: 'tenancy', subject: 'PostgreSQL 15.13',
        problem: 'lacks known row security fixes; upgrade to 15.14 or newer' }],
      notes: ['eu: PostgreSQL 15.13'],
    });
  });

  it('passes a fixed server and still notes its version', async () => {
    const result = await serverVersionCheck.run(target(answering('170006', '17.6 (Debian)')));
    expect(result).toEqual({ checked: 1, findings: [], notes: ['eu: PostgreSQL 17.6'] });
  });

  it('asks once per cluster, on its root database only', async () => {
    const result = await serverVersionCheck.run(target(answering('120001', '12.1'), false));
    expect(result).toEqual({ checked: 0, findings: [] });
  });
});

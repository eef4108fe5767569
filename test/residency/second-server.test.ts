// The second server the two-region suites run on: it starts, answers, and is gone after stop.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startSecondServer } from '../support/second-server.ts';

describe('second server', () => {
  it('starts on a loopback port with trust auth and is removed by stop', async () => {
    const server = await startSecondServer();
    try {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const { rows } = await client.query<{ port: string; version: string }>(
        "SELECT current_setting('port') AS port, current_setting('server_version_num') AS version");
      await client.end();
      expect(rows[0]?.port).toBe(String(server.port));
      expect(Number(rows[0]?.version)).toBeGreaterThanOrEqual(150000);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.folder)).toBe(false);
    const after = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
    await expect(after.connect()).rejects.toThrow();
  });
});

// `tenancy serve` holds its embedded data folder: a second command is refused, naming it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, runCli, runJson, startCli, type CliResult } from './cli.ts';

/** Resolves with the first stdout line that is the serve report (JSON with an address). */
function listening(child: ChildProcess): Promise<{ address: string; pid: number }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (const line of buffered.split('\n')) {
        if (!line.startsWith('{"address"')) continue;
        child.stdout?.off('data', onData);
        resolve(JSON.parse(line) as { address: string; pid: number });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
  });
}

describe('tenancy serve and the data-folder lock', () => {
  let dataDir: string;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tenancy-cli-serve-'));
  });

  afterAll(async () => {
    if (server?.exitCode === null) server.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a second command while serve runs, and frees the folder on SIGTERM', async () => {
    server = startCli(['serve', '--port', '0', '--json', '--data', dataDir]);
    const stderr: string[] = [];
    server.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
    const done = new Promise<number | null>((resolve) => server?.once('exit', resolve));
    const ready = await listening(server);
    expect(ready.pid).toBe(server.pid);
    expect(ready.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // It answers HTTP: a tenant route without a key is 401.
    const response = await fetch(`${ready.address}/v1/conversations`);
    expect(response.status).toBe(401);
    expect(stderr.join('')).toContain('TENANCY_ADMIN_TOKEN');

    const refused: CliResult = await runCli(['tenants', 'list', '--data', dataDir]);
    const message = expectFailure(refused, 'DATA_FOLDER_LOCKED');
    expect(message).toContain(`process ${server.pid}`);
    expect(message).toContain('tenancy serve');

    server.kill('SIGTERM');
    expect(await done).toBe(0);
    expect(await runJson(['tenants', 'list', '--data', dataDir])).toEqual({ tenants: [] });
  });

  it('reports a port that is taken as an error, not a stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const result = await runCli(['serve', '--port', String(port), '--data', dataDir]);
      expectFailure(result, 'EADDRINUSE');
      // The failed start left the folder free.
      expect(await runJson(['tenants', 'list', '--data', dataDir])).toEqual({ tenants: [] });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

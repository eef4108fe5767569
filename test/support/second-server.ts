// A second PostgreSQL 15 server for two-region tests: initdb and pg_ctl on a free loopback port,
// in a temporary folder owned by the `postgres` user, stopped and removed afterwards.
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = '/usr/lib/postgresql/15/bin';

export interface SecondServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** The temporary folder holding the cluster; gone after `stop`. */
  readonly folder: string;
  /** The server's admin URL with another database name. */
  urlOf(database: string): string;
  stop(): Promise<void>;
}

/** A port nothing listens on right now (the kernel's pick, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function ids(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    run('id', ['-u', user]), run('id', ['-g', user]),
  ]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Runs a PostgreSQL binary as `postgres`: initdb refuses root. When this process already is
 * that user, it runs the binary directly.
 */
function asPostgres(command: string, args: readonly string[]): Promise<unknown> {
  const path = join(bin, command);
  if (process.getuid?.() !== 0) return run(path, [...args]);
  return run('runuser', ['-u', 'postgres', '--', path, ...args]);
}

/**
 * Starts a fresh server with trust auth on 127.0.0.1. Call `stop` in an `afterAll`; a failed
 * start removes what it made before it throws.
 */
export async function startSecondServer(): Promise<SecondServer> {
  const folder = await mkdtemp(join(tmpdir(), 'tenancy-pg2-'));
  const data = join(folder, 'data');
  const socketDir = folder;
  if (process.getuid?.() === 0) {
    const { uid, gid } = await ids('postgres');
    await chown(folder, uid, gid);
  }
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) {
      started = false;
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
        .catch(() => undefined);
    }
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8',
      '--no-sync', '--locale=C']);
    const port = await freePort();
    const options = `-c listen_addresses=127.0.0.1 -c port=${port} ` +
      `-c unix_socket_directories=${socketDir} -c fsync=off -c max_connections=100`;
    await asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(folder, 'log'), '-w',
      '-t', '60', 'start']);
    started = true;
    const urlOf = (database: string): string =>
      `postgres://postgres@127.0.0.1:${port}/${database}`;
    return { url: urlOf('postgres'), port, folder, urlOf, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

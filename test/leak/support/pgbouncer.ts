// Starts Debian's PgBouncer in transaction pooling mode on a free loopback port, for the leak
// suites that must pass through a real pooler; stopped by the process id the suite started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serverUrl } from '../../support/drivers.ts';

export interface Bouncer {
  readonly port: number;
  /** A URL through the pooler for `user` (no password: the server trusts loopback here). */
  url(user: string, database?: string): string;
  stop(): Promise<void>;
}

export interface BouncerOptions {
  /** Roles that may log in through the pooler. */
  users: readonly string[];
  /** Server connections per database and user: fewer than the app's pool, so tenants mix. */
  poolSize: number;
}

const binary = '/usr/sbin/pgbouncer';

let checked: boolean | undefined;

/**
 * True when PgBouncer is installed. Under CI=true a missing PgBouncer is an error, not a skip:
 * `.ci/run` installs it.
 */
export function pgbouncerAvailable(): boolean {
  checked ??= spawnSync(binary, ['--version']).status === 0;
  if (!checked && process.env.CI === 'true') {
    throw new Error(`${binary} is missing under CI=true; .ci/run installs the pgbouncer package`);
  }
  return checked;
}

/** A port the kernel just handed out on 127.0.0.1, free for the pooler to take. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

function config(dir: string, port: number, poolSize: number): string {
  const server = new URL(serverUrl);
  return `[databases]
* = host=${server.hostname} port=${server.port || '5432'}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'users.txt')}
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 500
; No reset between clients, as in transaction mode: what a session leaves, the next finds.
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile =
pidfile =
`;
}

async function waitUntilReady(port: number, user: string, child: ChildProcess,
  log: () => string): Promise<void> {
  const url = `postgres://${user}@127.0.0.1:${port}/postgres`;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited early:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`pgbouncer did not answer on ${port}:\n${log()}`);
}

/**
 * Writes a config into a fresh temp folder and starts PgBouncer in the foreground. PgBouncer
 * refuses to run as root, so as root it is told to switch to the `postgres` user, which must
 * be able to read the folder.
 */
export async function startPgBouncer(options: BouncerOptions): Promise<Bouncer> {
  const dir = await mkdtemp(join(tmpdir(), 'tenancy-pgbouncer-'));
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(ini, config(dir, port, options.poolSize));
  await writeFile(join(dir, 'users.txt'),
    `${options.users.map((user) => `"${user}" ""`).join('\n')}\n`);
  const root = process.getuid?.() === 0;
  if (root) {
    await chmod(dir, 0o755);
    await chmod(ini, 0o644);
    await chmod(join(dir, 'users.txt'), 0o644);
  }
  const child = spawn(binary, [...(root ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(port, options.users[0] ?? 'postgres', child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    url: (user, database = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`,
    stop,
  };
}

// Runs the real `tenancy` bin as a child process and reads its output, for the CLI suites.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { Tenancy, type ConfigInput } from '../../src/index.ts';

export const bin = resolve(process.cwd(), 'bin/tenancy.js');
export const conversationsDir = resolve(process.cwd(), '../shared/data/conversations');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The suite sets what it needs; a TENANCY_* variable of the shell running the tests must not.
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TENANCY_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts `node bin/tenancy.js …args`; the caller waits for it or kills it. */
export function startCli(args: readonly string[], env: Record<string, string> = {}):
  ChildProcess {
  return spawn(process.execPath, [bin, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a started child's output until it exits. */
export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}):
  Promise<CliResult> {
  return finished(startCli(args, env));
}

/** Runs a command with --json, expects exit code `code` and returns the parsed stdout. */
export async function runJson<T = Record<string, unknown>>(
  args: readonly string[],
  code = 0,
  env: Record<string, string> = {},
): Promise<T> {
  const result = await runCli([...args, '--json'], env);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

/** Expects a failure printed as `error [CODE]: …` with no stack trace, and returns stderr. */
export function expectFailure(result: CliResult, code: string, exitCode = 1): string {
  expect(result.code).toBe(exitCode);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(new RegExp(`^error \\[${code}\\]: `));
  expect(result.stderr).not.toMatch(/^\s+at /m);
  return result.stderr;
}

/** Opens the deployment in this process for `fn`; no CLI child may run meanwhile (the lock). */
export async function inspect<T>(config: ConfigInput, fn: (tenancy: Tenancy) => Promise<T>):
  Promise<T> {
  const tenancy = await Tenancy.open(config, { command: 'cli test' });
  try {
    return await fn(tenancy);
  } finally {
    await tenancy.close();
  }
}

/** How many conversations and messages the tenant holds, and how many distinct ids. */
export function countConversations(tenancy: Tenancy, tenant: string):
  Promise<{ conversations: number; distinct: number; messages: number }> {
  return tenancy.withTenant(tenant, async ({ session }) => {
    const conversations = await session.query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d
         FROM ${session.table('conversations')}`,
    );
    const messages = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${session.table('messages')}`,
    );
    const row = conversations.rows[0] as { n: number; d: number };
    return { conversations: row.n, distinct: row.d, messages: messages.rows[0]?.n ?? 0 };
  });
}

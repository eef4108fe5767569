// Crash tests: run a child script under tsx and kill it with SIGKILL at a chosen line of its
// output, the way a machine loses a process.
import { spawn } from 'node:child_process';

/**
 * Runs `script` with `args` until `stop` accepts a line it printed, then kills it with SIGKILL;
 * resolves with every line printed. Rejects if the child ends before that line.
 */
export function killChildWhen(script: string, args: readonly string[],
  stop: (line: string) => boolean): Promise<string[]> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let killed = false;
  let buffered = '';
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  proc.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (!killed && stop(line)) {
        killed = true;
        proc.kill('SIGKILL');
      }
    }
  });
  return new Promise((done, fail) => {
    proc.once('error', fail);
    proc.once('close', () => {
      if (killed) done(lines);
      else fail(new Error(`the child ended before the kill point: ${lines.join(',')} ` +
        stderr.slice(-800)));
    });
  });
}

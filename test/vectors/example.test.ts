// The README's LangChain example really runs: retrieval over the real documents, offline.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

describe('examples/langchain-retrieval.ts', () => {
  it('retrieves each tenant\'s own documents', async () => {
    const { stdout } = await run(process.execPath,
      ['--import', 'tsx', join(root, 'examples', 'langchain-retrieval.ts')],
      { cwd: root, timeout: 110_000 });
    const sections = stdout.trim().split(/\n(?=\[)/);
    expect(sections).toHaveLength(4);
    const ids = (section: string): string[] => section.split('\n').slice(1)
      .map((line) => line.trim().split(/\s+/)[0] as string);
    const [coffee, banks, bankQuestionToCoffee, mmr] = sections.map(ids);
    expect(coffee).toHaveLength(3);
    expect(coffee?.every((id) => id.startsWith('ukers-'))).toBe(true);
    expect(banks?.every((id) => id.startsWith('bagehot-lombard-'))).toBe(true);
    // A banking question asked of the coffee tenant still only finds coffee.
    expect(bankQuestionToCoffee?.every((id) => id.startsWith('ukers-'))).toBe(true);
    expect(mmr).toHaveLength(3);
    expect(new Set(mmr).size).toBe(3);
    expect(mmr?.every((id) => id.startsWith('bagehot-lombard-'))).toBe(true);
  });
});

// The import progress bar: drawn only on a terminal and not with --json; counts and rate.
import { describe, expect, it } from 'vitest';
import { ProgressBar, progressBar, type ProgressStream } from '../../src/cli/progress.ts';

function sink(isTTY: boolean): ProgressStream & { text: string } {
  return {
    isTTY,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

describe('progressBar', () => {
  it('draws nothing when stderr is not a terminal, or with --json', () => {
    expect(progressBar(sink(false), false, { total: 10, label: 'import' })).toBeUndefined();
    expect(progressBar(sink(true), true, { total: 10, label: 'import' })).toBeUndefined();
    expect(progressBar(sink(true), undefined, { total: 10, label: 'import' }))
      .toBeInstanceOf(ProgressBar);
  });

  it('shows lines done of the total and the rate of this run only', () => {
    const out = sink(true);
    const started = Date.now();
    const bar = new ProgressBar(out, { total: 600, start: 200, label: 'import', intervalMs: 0 });
    expect(bar.render(started + 2000))
      .toMatch(/^import \[#{8}\.{16}\] 200\/600 lines {2}0 lines\/s$/);
    bar.update(400);
    expect(bar.render(started + 2000)).toMatch(/\[#{16}\.{8}\] 400\/600 lines {2}10\d lines\/s$/);
    bar.finish();
    expect(out.text.startsWith('\rimport [')).toBe(true);
    expect(out.text.endsWith('lines/s\n')).toBe(true);
  });

  it('redraws at most once per interval', () => {
    const out = sink(true);
    const bar = new ProgressBar(out, { total: 100, label: 'import', intervalMs: 60_000 });
    for (let done = 1; done <= 100; done += 1) bar.update(done);
    expect(out.text.split('\r').length - 1).toBe(1);
  });
});

// A progress bar on stderr (lines done of total, and the rate), drawn only on a terminal.

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Lines already done before this run, e.g. when an import resumes; not part of the rate. */
  start?: number;
  intervalMs?: number;
  /** What is counted (default `lines`). */
  unit?: string;
}

/** Redraws at most every `intervalMs`, so a fast import spends no time painting. */
export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #options: Required<ProgressOptions>;
  readonly #startedAt = Date.now();
  #drawnAt = 0;
  #done: number;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    this.#stream = stream;
    this.#options = { start: 0, intervalMs: 100, unit: 'lines', ...options };
    this.#done = this.#options.start;
  }

  /** Records `done` lines and redraws when the last drawing is old enough. */
  update(done: number): void {
    this.#done = done;
    const now = Date.now();
    if (now - this.#drawnAt < this.#options.intervalMs) return;
    this.#drawnAt = now;
    this.#stream.write(`\r${this.render(now)}`);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.#stream.write(`\r${this.render(Date.now())}\n`);
  }

  /** The bar as text, e.g. `import [######......] 300/600 lines  1200 lines/s`. */
  render(now: number): string {
    const { label, start, unit } = this.#options;
    const total = Math.max(this.#options.total, this.#done);
    const width = 24;
    const filled = total === 0 ? width : Math.round((this.#done / total) * width);
    const seconds = Math.max((now - this.#startedAt) / 1000, 0.001);
    const rate = Math.round((this.#done - start) / seconds);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const count = `${String(this.#done).padStart(String(total).length)}/${total}`;
    return `${label} [${bar}] ${count} ${unit}  ${rate} ${unit}/s`;
  }
}

/** A bar on `stream` when it is a terminal and the output is not JSON; otherwise none. */
export function progressBar(
  stream: ProgressStream,
  json: boolean | undefined,
  options: ProgressOptions,
): ProgressBar | undefined {
  if (stream.isTTY !== true || json === true) return undefined;
  return new ProgressBar(stream, options);
}

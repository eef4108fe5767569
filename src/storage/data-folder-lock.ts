// One process at a time per embedded data folder: a second one gets an error naming the holder.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TenancyError } from '../errors.ts';

interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

export class DataFolderLock {
  #released = false;
  readonly #onExit = (): void => this.release();

  private constructor(private readonly path: string) {
    process.once('exit', this.#onExit);
  }

  /**
   * Takes the folder's lock file, or throws DATA_FOLDER_LOCKED naming the live process that
   * holds it. A lock left by a process that no longer runs is taken over.
   */
  static acquire(folder: string, command: string): DataFolderLock {
    mkdirSync(folder, { recursive: true });
    const path = join(folder, 'tenancy.lock');
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      command,
      since: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        writeFileSync(path, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
        return new DataFolderLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== undefined && (holder.host !== me.host || alive(holder.pid))) {
        throw new TenancyError('DATA_FOLDER_LOCKED', {
          params: {
            detail: `${folder} is in use by process ${holder.pid} on ${holder.host} ` +
              `(${holder.command}, since ${holder.since}); stop it, or send requests to the ` +
              'service it runs',
          },
        });
      }
      unlinkSync(path);
    }
    throw new TenancyError('DATA_FOLDER_LOCKED', {
      params: { detail: `${folder} was taken by another process while opening` },
    });
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    process.removeListener('exit', this.#onExit);
    const holder = readHolder(this.path);
    if (holder?.pid === process.pid) unlinkSync(this.path);
  }
}

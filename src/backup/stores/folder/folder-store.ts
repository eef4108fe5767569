// A blob store in a folder on disk: each object a file, written to a temp file and renamed.
import { randomBytes } from 'node:crypto';
import {
  mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TenancyError } from '../../../errors.ts';
import { checkKey, type BlobInfo, type BlobStore, type BlobWriter } from '../../blob-store.ts';

/** Temp files start with a dot, which no key part may, so they are never listed or read. */
function tempPath(path: string): string {
  return join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
}

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function failed(err: unknown): TenancyError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  return new TenancyError('BACKUP_STORE_UNAVAILABLE', { params: { detail: `folder: ${code}` },
    cause: err });
}

// A rename is atomic, but durable only once the folder holding the new name is flushed too.
async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

class FolderWriter implements BlobWriter {
  #done = false;

  constructor(private readonly handle: FileHandle, private readonly temp: string,
    private readonly path: string) {}

  async write(part: Uint8Array): Promise<void> {
    await this.handle.write(part);
  }

  async commit(): Promise<void> {
    this.#done = true;
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temp, this.path);
    await syncFolder(dirname(this.path));
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.handle.close().catch(() => {});
    await rm(this.temp, { force: true });
  }
}

export class FolderBlobStore implements BlobStore {
  readonly kind = 'folder';

  constructor(readonly location: string) {}

  #path(key: string): string {
    checkKey(key);
    return join(this.location, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const writer = await this.writer(key);
    try {
      await writer.write(body);
      await writer.commit();
    } catch (err) {
      await writer.abort();
      throw failed(err);
    }
  }

  async writer(key: string): Promise<BlobWriter> {
    const path = this.#path(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      const temp = tempPath(path);
      return new FolderWriter(await open(temp, 'wx', 0o600), temp, path);
    } catch (err) {
      throw failed(err);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.#path(key));
    } catch (err) {
      if (missing(err)) throw new TenancyError('BACKUP_NOT_FOUND', { params: { detail: key } });
      throw failed(err);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    let handle: FileHandle;
    try {
      handle = await open(this.#path(key), 'r');
    } catch (err) {
      if (missing(err)) throw new TenancyError('BACKUP_NOT_FOUND', { params: { detail: key } });
      throw failed(err);
    }
    try {
      const out = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(out, read, length - read, offset + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (read < length) {
        throw new TenancyError('BACKUP_CORRUPT', { params: { detail: `${key} is truncated` } });
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    if (prefix !== '') checkKey(prefix, true);
    // Walks from the deepest folder the prefix names whole, then filters on the full prefix.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const found: BlobInfo[] = [];
    const walk = async (relative: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.location, ...relative.split('/').filter(Boolean)),
          { withFileTypes: true });
      } catch (err) {
        if (missing(err)) return;
        throw failed(err);
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await stat(join(this.location, ...key.split('/'))).catch(() => undefined);
          if (info !== undefined) found.push({ key, size: info.size, modifiedAt: info.mtime });
        }
      }
    };
    await walk(folder);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkKey(prefix, true);
    if (!prefix.endsWith('/')) {
      const objects = await this.list(prefix);
      await Promise.all(objects.map((o) => rm(this.#path(o.key), { force: true })));
      return objects.length;
    }
    // A whole folder goes, temp files of killed writers included.
    const count = (await this.list(prefix)).length;
    await rm(join(this.location, ...prefix.split('/').filter(Boolean)),
      { recursive: true, force: true });
    return count;
  }

  async close(): Promise<void> {}
}

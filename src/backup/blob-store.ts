// The contract of a blob store of backup archives: a folder on disk or an S3-compatible bucket.

/** One stored object, as a listing shows it. */
export interface BlobInfo {
  /** The key below the store's root, e.g. `tenants/acme/backups/<id>/manifest.json`. */
  readonly key: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

/**
 * A blob written in parts. Nothing is visible under its key until `commit` resolves; `abort`
 * (or a process killed mid-way) leaves no object under the key.
 */
export interface BlobWriter {
  write(part: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface BlobStore {
  readonly kind: 'folder' | 's3';
  /** Where the store is, for reports: a folder path or `s3://bucket/prefix`. No secrets. */
  readonly location: string;
  /** Writes a whole object atomically: readers see the old object, none, or the new one. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Starts a streamed object (multipart on S3) that appears only when committed. */
  writer(key: string): Promise<BlobWriter>;
  /** The whole object; BACKUP_NOT_FOUND when there is none. */
  get(key: string): Promise<Buffer>;
  /** `length` bytes from `offset`; BACKUP_CORRUPT when the object is shorter. */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** Objects whose keys start with `prefix`, sorted by key. Unfinished writes are not listed. */
  list(prefix: string): Promise<BlobInfo[]>;
  /** Removes every object under `prefix` (and unfinished writes there, where the store can). */
  deletePrefix(prefix: string): Promise<number>;
  close(): Promise<void>;
}

const keyPart = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Checks a key made of `/`-separated parts of `[a-z0-9._-]`, so no key can climb out of the
 * store's root or name a temporary file; every store calls it before touching anything.
 */
export function checkKey(key: string, prefix = false): void {
  const parts = key.split('/');
  if (prefix && parts.at(-1) === '') parts.pop();
  if (parts.length === 0 || !parts.every((part) => keyPart.test(part) && !part.includes('..'))) {
    throw new Error('refused a blob key outside [a-z0-9._-] parts');
  }
}

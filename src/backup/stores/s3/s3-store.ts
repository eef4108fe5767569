// A blob store in an S3-compatible bucket; archives go up as multipart uploads, in parts.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand,
  DeleteObjectsCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import type { BackupStoreConfig } from '../../../config/schema.ts';
import { TenancyError } from '../../../errors.ts';
import { checkKey, type BlobInfo, type BlobStore, type BlobWriter } from '../../blob-store.ts';

export type S3StoreConfig = Extract<BackupStoreConfig, { store: 's3' }>;

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
}

function nameOf(err: unknown): string {
  const name = (err as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : 'error';
}

// The SDK's messages can quote request details; only the error's name and status go out.
function failed(err: unknown): TenancyError {
  const status = statusOf(err);
  return new TenancyError('BACKUP_STORE_UNAVAILABLE', {
    params: { detail: `s3: ${nameOf(err)}${status === undefined ? '' : ` (${status})`}` },
    cause: err,
  });
}

function notFound(err: unknown): boolean {
  return statusOf(err) === 404 || nameOf(err) === 'NoSuchKey';
}

class S3Writer implements BlobWriter {
  readonly #parts: CompletedPart[] = [];
  #buffered: Uint8Array[] = [];
  #size = 0;
  #uploadId: string | undefined;
  #done = false;

  constructor(private readonly store: S3BlobStore, private readonly key: string,
    private readonly partSize: number) {}

  async write(part: Uint8Array): Promise<void> {
    this.#buffered.push(part);
    this.#size += part.length;
    if (this.#size >= this.partSize) await this.#flush();
  }

  async commit(): Promise<void> {
    this.#done = true;
    const client = this.store.client;
    try {
      if (this.#uploadId === undefined) {
        // Small enough for one request: no multipart upload at all.
        await client.send(new PutObjectCommand({ Bucket: this.store.bucket, Key: this.key,
          Body: Buffer.concat(this.#buffered) }));
        return;
      }
      if (this.#size > 0) await this.#flush();
      await client.send(new CompleteMultipartUploadCommand({
        Bucket: this.store.bucket, Key: this.key, UploadId: this.#uploadId,
        MultipartUpload: { Parts: this.#parts },
      }));
    } catch (err) {
      await this.#abortUpload();
      throw failed(err);
    }
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#buffered = [];
    await this.#abortUpload();
  }

  async #abortUpload(): Promise<void> {
    if (this.#uploadId === undefined) return;
    // Best effort: an upload never completed is invisible anyway, and prune retries.
    await this.store.client.send(new AbortMultipartUploadCommand({
      Bucket: this.store.bucket, Key: this.key, UploadId: this.#uploadId,
    })).catch(() => {});
  }

  async #flush(): Promise<void> {
    const client = this.store.client;
    const body = Buffer.concat(this.#buffered);
    this.#buffered = [];
    this.#size = 0;
    try {
      if (this.#uploadId === undefined) {
        const created = await client.send(new CreateMultipartUploadCommand({
          Bucket: this.store.bucket, Key: this.key,
        }));
        this.#uploadId = created.UploadId;
        if (this.#uploadId === undefined) throw new Error('no upload id');
      }
      const PartNumber = this.#parts.length + 1;
      const done = await client.send(new UploadPartCommand({
        Bucket: this.store.bucket, Key: this.key, UploadId: this.#uploadId, PartNumber,
        Body: body,
      }));
      this.#parts.push({ PartNumber, ETag: done.ETag });
    } catch (err) {
      throw failed(err);
    }
  }
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly client: S3Client;
  readonly bucket: string;
  readonly location: string;
  readonly #prefix: string;
  readonly #partSize: number;

  constructor(config: S3StoreConfig) {
    this.bucket = config.bucket;
    this.#prefix = config.prefix;
    this.#partSize = config.partSizeMiB * 1024 * 1024;
    this.location = `s3://${config.bucket}/${config.prefix}`;
    const credentials = config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey.reveal() }
      : undefined;
    this.client = new S3Client({
      region: config.awsRegion,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      forcePathStyle: config.forcePathStyle,
      ...(credentials === undefined ? {} : { credentials }),
      // Checksums only where S3 demands them: S3-compatible servers differ in what they accept,
      // and every chunk of an archive carries its own SHA-256 in the manifest anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  #key(key: string, prefix = false): string {
    checkKey(key, prefix);
    return `${this.#prefix}${key}`;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const full = this.#key(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: full,
        Body: body }));
    } catch (err) {
      throw failed(err);
    }
  }

  async writer(key: string): Promise<BlobWriter> {
    return new S3Writer(this, this.#key(key), this.#partSize);
  }

  async get(key: string): Promise<Buffer> {
    return this.#read(key);
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const body = await this.#read(key, `bytes=${offset}-${offset + length - 1}`);
    if (body.length !== length) {
      throw new TenancyError('BACKUP_CORRUPT', { params: { detail: `${key} is truncated` } });
    }
    return body;
  }

  async #read(key: string, range?: string): Promise<Buffer> {
    const full = this.#key(key);
    try {
      const found = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: full, ...(range === undefined ? {} : { Range: range }),
      }));
      if (found.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await found.Body.transformToByteArray());
    } catch (err) {
      if (notFound(err)) throw new TenancyError('BACKUP_NOT_FOUND', { params: { detail: key } });
      if (statusOf(err) === 416) {
        throw new TenancyError('BACKUP_CORRUPT', { params: { detail: `${key} is truncated` } });
      }
      throw failed(err);
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const full = prefix === '' ? this.#prefix : this.#key(prefix, true);
    const found: BlobInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({
          Bucket: this.bucket, Prefix: full, ContinuationToken: token,
        }));
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          found.push({ key: item.Key.slice(this.#prefix.length), size: item.Size ?? 0,
            modifiedAt: item.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      throw failed(err);
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    try {
      for (let i = 0; i < objects.length; i += 1000) {
        await this.client.send(new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: this.#key(o.key) })),
            Quiet: true },
        }));
      }
    } catch (err) {
      throw failed(err);
    }
    await this.#abortUploads(this.#key(prefix, true));
    return objects.length;
  }

  // Multipart uploads of killed writers hold storage until aborted; servers that cannot list
  // them (some S3-compatible ones) are skipped.
  async #abortUploads(prefix: string): Promise<void> {
    try {
      const page = await this.client.send(new ListMultipartUploadsCommand({
        Bucket: this.bucket, Prefix: prefix,
      }));
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        await this.client.send(new AbortMultipartUploadCommand({
          Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId,
        }));
      }
    } catch {
      // Nothing to do: the listing is not supported, or the uploads are gone already.
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

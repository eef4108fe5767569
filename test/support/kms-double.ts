// TEST DOUBLE of AWS KMS for the aws-kms provider's tests: not KMS, and no KMS is reached.
//
// It speaks the KMS JSON protocol (POST /, X-Amz-Target: TrentService.<Operation>, JSON 1.1) on
// 127.0.0.1 for the few operations the provider uses, and holds its keys in memory. What a real
// KMS enforces and the provider relies on, it enforces too: a Decrypt must carry the same
// encryption context as the Encrypt (authenticated as AES-GCM associated data), a Decrypt that
// names a key refuses a blob of another key, a disabled key refuses, old key material keeps
// decrypting after an on-demand rotation, which finishes a little later than it was asked for.
// Every request must carry an AWS SigV4 Authorization header, checked against the one key pair
// the double knows. Its ciphertext format is its own, not KMS's.
import {
  createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import {
  startLoopbackServer, type LoopbackAnswer, type LoopbackRequest, type LoopbackServer,
} from './loopback-server.ts';

export interface KmsDoubleOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** How long an on-demand rotation runs before its new material is current. */
  readonly rotationMillis?: number;
}

interface DoubleKey {
  readonly id: string;
  readonly arn: string;
  readonly materials: Map<string, Buffer>;
  current: string;
  enabled: boolean;
  rotationStarted: Date | undefined;
}

export interface KmsCall {
  readonly operation: string;
  readonly encryptionContext: Record<string, string> | undefined;
}

class KmsFault extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
  }
}

const account = '111122223333';
const authorizationShape = new RegExp('^AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/kms/'
  + 'aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$');

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function contextBytes(context: Record<string, string> | undefined): Buffer {
  const pairs = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

export class KmsDouble {
  readonly calls: KmsCall[] = [];
  readonly #options: KmsDoubleOptions;
  readonly #keys = new Map<string, DoubleKey>();
  readonly #aliases = new Map<string, string>();
  #server: LoopbackServer | undefined;

  private constructor(options: KmsDoubleOptions) {
    this.#options = options;
  }

  static async start(options: KmsDoubleOptions): Promise<KmsDouble> {
    const double = new KmsDouble(options);
    double.#server = await startLoopbackServer((request) => double.#handle(request),
      'application/x-amz-json-1.1');
    return double;
  }

  get url(): string {
    if (this.#server === undefined) throw new Error('not started');
    return this.#server.url;
  }

  /** A new symmetric key with one key material; `alias` (e.g. `alias/tenancy`) points at it. */
  createKey(alias?: string): { keyId: string; arn: string } {
    const id = randomUUID();
    const arn = `arn:aws:kms:${this.#options.region}:${account}:key/${id}`;
    const material = randomBytes(32).toString('hex');
    this.#keys.set(id, {
      id, arn, materials: new Map([[material, randomBytes(32)]]), current: material,
      enabled: true, rotationStarted: undefined,
    });
    if (alias !== undefined) this.#aliases.set(alias, id);
    return { keyId: id, arn };
  }

  setEnabled(keyId: string, enabled: boolean): void {
    this.#find(keyId).enabled = enabled;
  }

  materialCount(keyId: string): number {
    return this.#find(keyId).materials.size;
  }

  close(): Promise<void> {
    return this.#server?.close() ?? Promise.resolve();
  }

  #find(keyId: string): DoubleKey {
    const bare = keyId.startsWith('arn:') ? keyId.slice(keyId.lastIndexOf('/') + 1) : keyId;
    const id = keyId.startsWith('alias/') ? this.#aliases.get(keyId) : bare;
    const key = id === undefined ? undefined : this.#keys.get(id);
    if (key === undefined) throw new KmsFault('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  #handle(request: LoopbackRequest): LoopbackAnswer {
    try {
      if (request.method !== 'POST' || request.path !== '/') {
        throw new KmsFault('UnknownOperationException', 'only POST / is served');
      }
      this.#checkSignature(request);
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('TrentService.') ? target.slice(13) : '';
      const input = JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
      const context = input.EncryptionContext as Record<string, string> | undefined;
      this.calls.push({ operation, encryptionContext: context });
      return { status: 200, body: this.#operate(operation, input, context) };
    } catch (err) {
      const fault = err instanceof KmsFault
        ? err : new KmsFault('KMSInternalException', String(err), 500);
      return {
        status: fault.status,
        body: { __type: fault.type, message: fault.message },
        headers: { 'x-amzn-errortype': fault.type },
      };
    }
  }

  #operate(
    operation: string, input: Record<string, unknown>, context: Record<string, string> | undefined,
  ): Record<string, unknown> {
    switch (operation) {
      case 'DescribeKey': return this.#describe(String(input.KeyId));
      case 'Encrypt': return this.#encrypt(input, context);
      case 'Decrypt': return this.#decrypt(input, context);
      case 'RotateKeyOnDemand': return this.#rotate(String(input.KeyId));
      case 'GetKeyRotationStatus': {
        const key = this.#find(String(input.KeyId));
        return {
          KeyId: key.arn, KeyRotationEnabled: false,
          ...(key.rotationStarted === undefined ? {}
            : { OnDemandRotationStartDate: key.rotationStarted.getTime() / 1000 }),
        };
      }
      default: throw new KmsFault('UnknownOperationException', `${operation} is not served`);
    }
  }

  #describe(keyId: string): Record<string, unknown> {
    const key = this.#find(keyId);
    return {
      KeyMetadata: {
        AWSAccountId: account, KeyId: key.id, Arn: key.arn, Enabled: key.enabled,
        KeyState: key.enabled ? 'Enabled' : 'Disabled', KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER',
        CurrentKeyMaterialId: key.current,
      },
    };
  }

  // Blob: 01 | key id (36 ASCII) | material id (64 ASCII) | iv (12) | ciphertext | tag (16).
  #encrypt(input: Record<string, unknown>, context: Record<string, string> | undefined):
    Record<string, unknown> {
    const key = this.#find(String(input.KeyId));
    if (!key.enabled) throw new KmsFault('DisabledException', 'key is disabled');
    const plaintext = Buffer.from(String(input.Plaintext ?? ''), 'base64');
    if (plaintext.length === 0 || plaintext.length > 4096) {
      throw new KmsFault('ValidationException', 'Plaintext must be 1 to 4096 bytes');
    }
    const header = Buffer.concat([Buffer.of(1), Buffer.from(key.id + key.current, 'latin1')]);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.materials.get(key.current) as Buffer, iv);
    cipher.setAAD(Buffer.concat([header, contextBytes(context)]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      CiphertextBlob: Buffer.concat([header, iv, body]).toString('base64'),
      KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  #decrypt(input: Record<string, unknown>, context: Record<string, string> | undefined):
    Record<string, unknown> {
    const blob = Buffer.from(String(input.CiphertextBlob ?? ''), 'base64');
    const invalid = new KmsFault('InvalidCiphertextException', 'ciphertext does not decrypt');
    if (blob.length < 1 + 100 + 12 + 16 || blob[0] !== 1) throw invalid;
    const keyId = blob.subarray(1, 37).toString('latin1');
    const materialId = blob.subarray(37, 101).toString('latin1');
    const key = this.#keys.get(keyId);
    if (key === undefined) throw invalid;
    if (input.KeyId !== undefined && this.#find(String(input.KeyId)) !== key) {
      throw new KmsFault('IncorrectKeyException', 'the ciphertext was made under another key');
    }
    if (!key.enabled) throw new KmsFault('DisabledException', 'key is disabled');
    const material = key.materials.get(materialId);
    if (material === undefined) throw invalid;
    const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(101, 113));
    decipher.setAAD(Buffer.concat([blob.subarray(0, 101), contextBytes(context)]));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(blob.subarray(113, blob.length - 16)), decipher.final(),
      ]);
    } catch {
      throw invalid;
    }
    return {
      KeyId: key.arn, Plaintext: plaintext.toString('base64'),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', KeyMaterialId: materialId,
    };
  }

  #rotate(keyId: string): Record<string, unknown> {
    const key = this.#find(keyId);
    if (key.rotationStarted !== undefined) {
      throw new KmsFault('ConflictException', 'an on-demand rotation is already in progress');
    }
    key.rotationStarted = new Date();
    setTimeout(() => {
      const material = randomBytes(32).toString('hex');
      key.materials.set(material, randomBytes(32));
      key.current = material;
      key.rotationStarted = undefined;
    }, this.#options.rotationMillis ?? 150).unref();
    return { KeyId: key.arn };
  }

  /** Recomputes the SigV4 signature from the headers the client says it signed. */
  #checkSignature(request: LoopbackRequest): void {
    const header = String(request.headers.authorization ?? '');
    const match = authorizationShape.exec(header);
    if (match === null) {
      throw new KmsFault('MissingAuthenticationTokenException', 'no SigV4 Authorization header');
    }
    const [, accessKeyId, day, region, signed, signature] = match as unknown as string[];
    if (accessKeyId !== this.#options.accessKeyId) {
      throw new KmsFault('UnrecognizedClientException', 'unknown access key id');
    }
    const amzDate = String(request.headers['x-amz-date'] ?? '');
    const names = (signed as string).split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')
      || !amzDate.startsWith(day as string)) {
      throw new KmsFault('IncompleteSignatureException', 'host and x-amz-date must be signed');
    }
    const canonical = [
      request.method, '/', '',
      ...names.map((name) => {
        const value = request.headers[name];
        const text = Array.isArray(value) ? value.join(',') : String(value ?? '');
        return `${name}:${text.trim().replace(/\s+/g, ' ')}`;
      }),
      '', signed, sha256Hex(request.body),
    ].join('\n');
    const scope = `${day}/${region}/kms/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
    let key = hmac(`AWS4${this.#options.secretAccessKey}`, day as string);
    for (const part of [region as string, 'kms', 'aws4_request']) key = hmac(key, part);
    const expected = createHmac('sha256', key).update(toSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature as string, 'hex'))) {
      throw new KmsFault('InvalidSignatureException', 'the request signature does not match');
    }
  }
}

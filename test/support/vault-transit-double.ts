// TEST DOUBLE of HashiCorp Vault's Transit engine for the vault-transit provider's tests.
//
// Not Vault, and no Vault is reached: a loopback server that answers the Transit endpoints the
// provider calls (keys read/create/rotate/config, encrypt, decrypt) with Vault's JSON shapes
// and `vault:vN:` ciphertexts, holding keys in memory. Like Vault it requires X-Vault-Token,
// derives a key per `context` for derived keys (HKDF-SHA256 under the key version), refuses
// versions below min_decryption_version, and answers 400 to a ciphertext that does not open.
import {
  createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual,
} from 'node:crypto';
import {
  startLoopbackServer, type LoopbackAnswer, type LoopbackRequest, type LoopbackServer,
} from './loopback-server.ts';

interface TransitKey {
  readonly type: string;
  readonly derived: boolean;
  /** versions[n - 1] is version n. */
  readonly versions: Buffer[];
  minDecryptionVersion: number;
}

export interface TransitCall {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
  readonly body: Record<string, unknown>;
}

const routeShape =
  /^\/v1\/([a-z0-9_-]+)\/(keys|encrypt|decrypt)\/([A-Za-z0-9_-]+)(\/rotate|\/config)?$/;

function fault(status: number, message: string): LoopbackAnswer {
  return { status, body: { errors: [message] } };
}

export class VaultTransitDouble {
  readonly calls: TransitCall[] = [];
  readonly #token: Buffer;
  readonly #keys = new Map<string, TransitKey>();
  #server: LoopbackServer | undefined;

  private constructor(token: string) {
    this.#token = Buffer.from(token);
  }

  static async start(token: string): Promise<VaultTransitDouble> {
    const double = new VaultTransitDouble(token);
    double.#server = await startLoopbackServer((request) => double.#handle(request));
    return double;
  }

  get url(): string {
    if (this.#server === undefined) throw new Error('not started');
    return this.#server.url;
  }

  /** Makes `<mount>/<name>` as an operator would, e.g. without `derived` to test refusal. */
  createKey(mount: string, name: string, options: { derived: boolean; type?: string }): void {
    this.#keys.set(`${mount}/${name}`, {
      type: options.type ?? 'aes256-gcm96', derived: options.derived,
      versions: [randomBytes(32)], minDecryptionVersion: 1,
    });
  }

  setMinDecryptionVersion(mount: string, name: string, version: number): void {
    const key = this.#keys.get(`${mount}/${name}`);
    if (key === undefined) throw new Error('no such key');
    key.minDecryptionVersion = version;
  }

  close(): Promise<void> {
    return this.#server?.close() ?? Promise.resolve();
  }

  #handle(request: LoopbackRequest): LoopbackAnswer {
    const token = request.headers['x-vault-token'];
    const body = request.body.length === 0
      ? {} : JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
    this.calls.push({
      method: request.method, path: request.path,
      token: typeof token === 'string' ? token : undefined, body,
    });
    const given = Buffer.from(typeof token === 'string' ? token : '');
    if (given.length !== this.#token.length || !timingSafeEqual(given, this.#token)) {
      return fault(403, 'permission denied');
    }
    const route = routeShape.exec(request.path);
    if (route === null) return fault(404, 'no handler for route');
    const [, mount, op, name, tail] = route as unknown as [string, string, string, string, string?];
    const id = `${mount}/${name}`;
    const key = this.#keys.get(id);
    if (op === 'keys' && tail === undefined && request.method === 'POST') {
      if (key === undefined) {
        this.createKey(mount, name, {
          derived: body.derived === true, type: String(body.type ?? 'aes256-gcm96'),
        });
      }
      return { status: 204 };
    }
    if (key === undefined) return fault(op === 'keys' ? 404 : 400, 'encryption key not found');
    if (op === 'keys' && tail === undefined && request.method === 'GET') {
      return { status: 200, body: { data: this.#describe(name, key) } };
    }
    if (op === 'keys' && tail === '/rotate' && request.method === 'POST') {
      key.versions.push(randomBytes(32));
      return { status: 200, body: { data: this.#describe(name, key) } };
    }
    if (op === 'keys' && tail === '/config' && request.method === 'POST') {
      key.minDecryptionVersion = Number(body.min_decryption_version ?? key.minDecryptionVersion);
      return { status: 204 };
    }
    if (request.method !== 'POST' || tail !== undefined) return fault(405, 'unsupported');
    return op === 'encrypt' ? this.#encrypt(key, body) : this.#decrypt(key, body);
  }

  #describe(name: string, key: TransitKey): Record<string, unknown> {
    const keys = Object.fromEntries(key.versions.map((_, i) => [String(i + 1), 1_700_000_000]));
    return {
      name, type: key.type, derived: key.derived, kdf: key.derived ? 'hkdf_sha256' : undefined,
      latest_version: key.versions.length, min_decryption_version: key.minDecryptionVersion,
      keys, deletion_allowed: false, exportable: false,
    };
  }

  #keyFor(key: TransitKey, version: number, context: unknown): Buffer | LoopbackAnswer {
    const base = key.versions[version - 1];
    if (base === undefined) return fault(400, 'invalid ciphertext: version not found');
    if (!key.derived) return base;
    if (typeof context !== 'string' || context === '') {
      return fault(400, "missing 'context' for key derivation");
    }
    return Buffer.from(hkdfSync('sha256', base, Buffer.alloc(0),
      Buffer.from(context, 'base64'), 32));
  }

  #encrypt(key: TransitKey, body: Record<string, unknown>): LoopbackAnswer {
    const version = key.versions.length;
    const derived = this.#keyFor(key, version, body.context);
    if (!Buffer.isBuffer(derived)) return derived;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', derived, nonce);
    const plaintext = Buffer.from(String(body.plaintext ?? ''), 'base64');
    const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(),
      cipher.getAuthTag()]);
    return {
      status: 200,
      body: { data: { ciphertext: `vault:v${version}:${sealed.toString('base64')}`,
        key_version: version } },
    };
  }

  #decrypt(key: TransitKey, body: Record<string, unknown>): LoopbackAnswer {
    const match = /^vault:v(\d+):(.+)$/.exec(String(body.ciphertext ?? ''));
    if (match === null) return fault(400, 'invalid ciphertext: no prefix');
    const version = Number(match[1]);
    if (version < key.minDecryptionVersion) {
      return fault(400, 'ciphertext or signature version is disallowed by policy (too old)');
    }
    const derived = this.#keyFor(key, version, body.context);
    if (!Buffer.isBuffer(derived)) return derived;
    const sealed = Buffer.from(match[2] as string, 'base64');
    if (sealed.length < 28) return fault(400, 'invalid ciphertext: too short');
    const decipher = createDecipheriv('aes-256-gcm', derived, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    try {
      const plaintext = Buffer.concat([
        decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final(),
      ]);
      return { status: 200, body: { data: { plaintext: plaintext.toString('base64') } } };
    } catch {
      return fault(400, 'cipher: message authentication failed');
    }
  }
}

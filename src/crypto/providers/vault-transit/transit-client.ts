// Calls to one key of Vault's Transit engine over HTTP, with the token from config.
import type { Secret } from '../../../config/secret.ts';
import { TenancyError } from '../../../errors.ts';

const requestTimeoutMillis = 10_000;

export interface TransitAnswer {
  readonly status: number;
  /** The `data` member of Vault's JSON answer, when there is one. */
  readonly data: Record<string, unknown> | undefined;
}

export interface TransitKeyInfo {
  readonly type: string;
  readonly derived: boolean;
  readonly latestVersion: number;
}

function unavailable(detail: string, cause?: unknown): TenancyError {
  return new TenancyError('KEY_PROVIDER_UNAVAILABLE', { params: { detail }, cause });
}

export class TransitClient {
  readonly #base: string;
  readonly #token: Secret;
  readonly #keyPath: string;

  constructor(address: string, token: Secret, mount: string, keyName: string) {
    this.#base = address.replace(/\/+$/, '');
    this.#token = token;
    this.#keyPath = `${encodeURIComponent(mount)}/{op}/${encodeURIComponent(keyName)}`;
  }

  /**
   * `op` is the Transit path segment before the key name: `encrypt`, `decrypt`, `keys`. Any
   * answer comes back with its status; only an unreachable Vault throws. Redirects are refused:
   * following one would hand the token to whatever host it names.
   */
  async call(
    op: string, body?: Record<string, unknown>, suffix = '',
  ): Promise<TransitAnswer> {
    const url = `${this.#base}/v1/${this.#keyPath.replace('{op}', op)}${suffix}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          'X-Vault-Token': this.#token.reveal(),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(requestTimeoutMillis),
      });
    } catch (err) {
      throw unavailable('Vault could not be reached', err);
    }
    const text = await response.text().catch(() => '');
    let data: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = text === '' ? undefined : JSON.parse(text);
      const inner = (parsed as { data?: unknown } | undefined)?.data;
      if (inner !== null && typeof inner === 'object') data = inner as Record<string, unknown>;
    } catch {
      // A body that is not JSON (a proxy's error page) leaves only the status to go by.
    }
    return { status: response.status, data };
  }

  /** The key's description, or undefined when Vault has no key of that name. */
  async readKey(): Promise<TransitKeyInfo | undefined> {
    const answer = await this.call('keys');
    if (answer.status === 404) return undefined;
    const data = this.expect(answer, 'reading the transit key');
    const latest = data.latest_version;
    if (typeof latest !== 'number' || !Number.isInteger(latest) || latest < 1) {
      throw unavailable('Vault described the transit key without a latest version');
    }
    return { type: String(data.type), derived: data.derived === true, latestVersion: latest };
  }

  /** The answer's data when Vault said yes; a clear unavailability otherwise. */
  expect(answer: TransitAnswer, doing: string): Record<string, unknown> {
    if (answer.status >= 200 && answer.status < 300) return answer.data ?? {};
    const why = answer.status === 403
      ? 'Vault refused the token' : `Vault answered ${answer.status}`;
    throw unavailable(`${why} when ${doing}`);
  }
}

// A string that never prints: logs, JSON.stringify and util.inspect show a placeholder.
import { inspect } from 'node:util';

const hidden = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The real value, for the one place that must use it. */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return hidden;
  }

  toString(): string {
    return hidden;
  }

  [inspect.custom](): string {
    return hidden;
  }
}

/** A Postgres URL whose password is masked whenever it is printed. */
export class ConnectionString extends Secret {
  readonly #masked: string;

  constructor(value: string) {
    super(value);
    const url = new URL(value);
    if (url.password !== '') url.password = 'redacted';
    this.#masked = url.toString();
  }

  /** The database name in the URL path. */
  get database(): string {
    return decodeURIComponent(new URL(this.reveal()).pathname.slice(1)) || 'postgres';
  }

  override toJSON(): string {
    return this.#masked;
  }

  override toString(): string {
    return this.#masked;
  }

  override [inspect.custom](): string {
    return this.#masked;
  }
}

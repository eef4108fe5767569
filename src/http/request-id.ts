// Request ids: a caller's own id is kept when it is short and plain, otherwise a fresh UUID.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const plain = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The id of one request. A sane incoming `x-request-id` lets a caller follow its request through
 * our logs; anything else (too long, odd characters, repeated) could forge or break log lines.
 */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && plain.test(incoming) ? incoming : randomUUID();
}

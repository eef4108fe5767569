// The service's pino logger: listed fields only, secrets and content redacted by path.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** pino options for the service, plus an optional stream to write the JSON lines to. */
export type HttpLoggerOptions = LoggerOptions & { stream?: DestinationStream };

const censor = '[redacted]';

// Whatever object a log call is handed, these paths never reach the output: credentials,
// bodies and the fields that hold tenant content.
const redactPaths = [
  'authorization', 'headers.authorization', 'req.headers.authorization', '*.authorization',
  'headers.cookie', 'req.headers.cookie', 'headers["x-api-key"]',
  'secret', '*.secret', 'apiKey', '*.apiKey', 'token', '*.token', 'adminToken', '*.adminToken',
  'body', '*.body', 'payload', '*.payload', 'query', '*.query',
  'content', '*.content', 'text', '*.text', 'messages', '*.messages', 'title', '*.title',
  'metadata', '*.metadata',
];

interface RequestLike {
  method?: string;
  routeOptions?: { url?: string };
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  sqlState?: unknown;
  constraint?: unknown;
  stack?: unknown;
  cause?: unknown;
}

// Stack frames only: the first line of a stack repeats the message, which may quote a value.
function frames(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  return stack.split('\n').filter((line) => /^\s+at /.test(line)).join('\n');
}

function describeError(value: unknown, depth: number): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const err = value as ErrorLike;
  const out: Record<string, unknown> = {
    type: typeof err.name === 'string' ? err.name : 'Error',
  };
  for (const key of ['code', 'statusCode', 'sqlState', 'constraint'] as const) {
    const field = err[key];
    if (typeof field === 'string' || typeof field === 'number') out[key] = field;
  }
  const stack = frames(err.stack);
  if (stack) out.stack = stack;
  if (depth < 3 && err.cause !== undefined) out.cause = describeError(err.cause, depth + 1);
  return out;
}

/**
 * Serializers for the keys Fastify and the service log under: a request is its method and
 * route pattern (never the URL, which carries ids and query strings), an error keeps type, code
 * and frames but not its message.
 */
export const serializers = {
  req: (req: RequestLike) => ({ method: req.method, route: req.routeOptions?.url }),
  res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
  err: (err: unknown) => describeError(err, 0),
};

function extraPaths(redact: LoggerOptions['redact']): string[] {
  if (redact === undefined) return [];
  return Array.isArray(redact) ? redact : redact.paths;
}

/** A pino logger for the service: the caller's options, with our redaction and serializers. */
export function createHttpLogger(options: HttpLoggerOptions = {}): Logger {
  const { stream, redact, serializers: extra, ...rest } = options;
  const merged: LoggerOptions = {
    level: 'info',
    ...rest,
    redact: { paths: [...redactPaths, ...extraPaths(redact)], censor },
    serializers: { ...extra, ...serializers },
  };
  return stream === undefined ? pino(merged) : pino(merged, stream);
}

// Runs the service on a port until SIGINT or SIGTERM, then closes the app and the Tenancy.
import type { FastifyInstance } from 'fastify';
import type { Tenancy } from '../tenancy.ts';
import { buildApp, type AppOptions } from './app.ts';

export interface ServeOptions extends AppOptions {
  host?: string;
  port?: number;
  /** How long in-flight requests may take to finish once closing starts (default 10 s). */
  graceMillis?: number;
}

export interface Serving {
  app: FastifyInstance;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  address: string;
  /** Stops listening, then closes the Tenancy; what a signal does. Safe to call twice. */
  close(): Promise<void>;
}

const signals = ['SIGINT', 'SIGTERM'] as const;

/**
 * Builds the app, listens (host and port default to the config's `server` section) and closes
 * cleanly on SIGINT or SIGTERM: it stops accepting connections, lets in-flight requests finish
 * (for up to `graceMillis`), then closes the Tenancy and its databases.
 */
export async function serve(tenancy: Tenancy, options: ServeOptions = {}): Promise<Serving> {
  const { host, port, graceMillis = 10_000, ...appOptions } = options;
  const app = buildApp(tenancy, appOptions);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const signal of signals) process.off(signal, onSignal);
      // Idle keep-alive connections close at once; a connection still busy (or opened and
      // never used, as some clients keep spares) is cut when the grace period ends.
      const cut = setTimeout(() => app.server.closeAllConnections(), graceMillis);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
        await tenancy.close();
      }
    })();
    return closing;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    app.log.info({ signal }, 'shutting down');
    close().catch((err: unknown) => {
      app.log.error({ err }, 'shutdown failed');
      process.exitCode = 1;
    });
  };
  let address: string;
  try {
    address = await app.listen({
      host: host ?? tenancy.config.server.host,
      port: port ?? tenancy.config.server.port,
    });
  } catch (err) {
    // The port was taken, say: the app goes, the Tenancy stays with the caller to close.
    await app.close();
    throw err;
  }
  for (const signal of signals) process.once(signal, onSignal);
  return { app, address, close };
}

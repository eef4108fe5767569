// `tenancy serve`: runs the HTTP service on one Tenancy until SIGINT or SIGTERM.
import { InvalidArgumentError, type Command } from 'commander';
import { Tenancy } from '../index.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './common.ts';
import { note, report } from './output.ts';

interface ServeOptions extends CommonOptions {
  port?: number;
  host?: string;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  }
  return port;
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Registers `serve` under `program`. */
export function registerServeCommand(program: Command): void {
  withCommonOptions(program.command('serve'))
    .description('run the HTTP service')
    .option('--port <port>', 'port to listen on (0 picks a free one)', parsePort)
    .option('--host <host>', 'address to listen on')
    .action(async (options: ServeOptions) => {
      const config = configFrom(options);
      const stopped = stopSignal();
      const tenancy = await Tenancy.open(config, { command: 'tenancy serve' });
      try {
        // Loaded here so that the other commands never pay for the HTTP stack.
        const { serve } = await import('../http/serve.ts');
        const serving = await serve(tenancy, {
          host: options.host ?? config.server.host,
          port: options.port ?? config.server.port,
        });
        report({ address: serving.address, pid: process.pid }, options,
          (v) => `listening on ${v.address}`);
        if (config.adminToken === undefined) {
          note('no admin token is configured, so the /admin routes answer 401; set ' +
            'TENANCY_ADMIN_TOKEN (16 or more characters) to enable them');
        }
        await stopped;
        // serve() reacts to the same signal; its close is shared, so this only waits for it.
        await serving.close();
      } finally {
        await tenancy.close();
      }
    });
}

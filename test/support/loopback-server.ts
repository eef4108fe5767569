// A tiny HTTP server on 127.0.0.1 for the test doubles: reads a bounded body, answers JSON.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface LoopbackAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

const maxBody = 1 << 20;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) request.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, answer: LoopbackAnswer, contentType: string): void {
  const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    ...(text === '' ? {} : { 'content-type': contentType }),
    ...answer.headers,
  });
  response.end(text);
}

/** Serves `handle` on an ephemeral loopback port until `close`. */
export async function startLoopbackServer(
  handle: (request: LoopbackRequest) => LoopbackAnswer | Promise<LoopbackAnswer>,
  contentType = 'application/json',
): Promise<LoopbackServer> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const body = await readBody(request);
        const answer = await handle({
          method: request.method ?? 'GET', path: request.url ?? '/', headers: request.headers, body,
        });
        send(response, answer, contentType);
      } catch (err) {
        send(response, { status: 500, body: { error: String(err) } }, contentType);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

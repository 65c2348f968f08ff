/** A small HTTP listener for the metrics and health endpoints. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from './config.ts';
import { AgentError, AgentErrorCode } from './errors.ts';

export interface HttpEndpoint {
  /** The bound address (the port is the real one when 0 was asked for). */
  address: ListenAddress;
  stop(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export async function listenHttp(name: string, listen: ListenAddress, handler: Handler): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${(e as Error)?.message ?? String(e)}\n`);
    });
  });
  // Probes and scrapes are short; do not let idle keep-alive connections delay shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new AgentError(AgentErrorCode.ListenFailed, `cannot listen for ${name} on ${listen.host}:${listen.port}: ${e.code ?? e.message}`, { cause: e })),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatehouseApp } from './app.ts';

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting connections, lets in-flight requests finish (up to `graceMs`), then closes the app. */
  stop(graceMs?: number): Promise<void>;
}

/** Listens on config.host:config.port (port 0 picks a free one, as the tests do). */
export async function startServer(app: GatehouseApp, port = app.config.port, host = app.config.host): Promise<RunningServer> {
  const server = createServer(app.koa.callback());
  // Slightly above common load balancer idle timeouts, so the balancer closes idle sockets first.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    async stop(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await app.close();
    },
  };
}

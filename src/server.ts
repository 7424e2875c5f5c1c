import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatehouseApp } from './app.ts';
import { startMetricsListener } from './observability/metrics-endpoint.ts';
import { drainable, type DrainResult } from './http/drain.ts';

export interface RunningServer {
  server: Server;
  url: string;
  /** Where /metrics is served when METRICS_PORT is set (the main port then does not serve it). */
  metricsUrl: string | undefined;
  /** Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then closes the app. */
  stop(timeoutMs: number): Promise<DrainResult>;
}

/** Listens on config.host:config.port (port 0 picks a free one, as the tests do). */
export async function startServer(app: GatehouseApp, port = app.config.port, host = app.config.host): Promise<RunningServer> {
  const server = createServer(app.callback());
  // Slightly above common load balancer idle timeouts, so the balancer closes idle sockets first.
  server.keepAliveTimeout = 65_000;
  const drain = drainable(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const metrics = app.metrics.enabled && app.config.metrics.port !== undefined
    ? await startMetricsListener(app.metrics.registry, app.config.metrics.port, host)
    : undefined;
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    metricsUrl: metrics?.url,
    async stop(timeoutMs) {
      const result = await drain.drain(timeoutMs);
      await metrics?.close(); // scrapes keep working while requests drain
      await app.close();
      return result;
    },
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** The scrape path, on the main port or on METRICS_PORT's listener. */
export const METRICS_PATH = '/metrics';

/**
 * Answers a scrape in the Prometheus text format. no-store: a cached scrape would be stale numbers, and
 * nothing between Prometheus and us should keep a copy.
 */
export async function writeMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: string;
  try {
    body = await registry.metrics();
  } catch {
    // A collect callback failed (say, a gauge read from a pool being closed): no partial page.
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end('metrics unavailable\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export const isScrape = (method: string | undefined, path: string) => path === METRICS_PATH && (method === 'GET' || method === 'HEAD');

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * METRICS_PORT: /metrics on a listener of its own, so the public port (and the Ingress in front of it)
 * never serves it; everything else there is 404. Same host as the main server.
 */
export async function startMetricsListener(registry: Registry, port: number, host: string): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (isScrape(req.method, path)) return void writeMetrics(registry, req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive socket must not hold the shutdown open.
        server.closeAllConnections();
      }),
  };
}

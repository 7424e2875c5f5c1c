import type { Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * How long a keep-alive connection may sit idle once a drain has begun before it is closed, and how
 * often idle ones are closed after that. Long enough for a request the client sent before it could
 * know (in transit, or in the socket buffer but not yet read) to arrive and be served; short enough
 * that the drain does not wait on clients that have nothing more to ask.
 */
const IDLE_GRACE_MS = 500;

export interface DrainResult {
  /** Connections still open when the timeout struck, closed mid-request (0 when everything finished). */
  cut: number;
}

export interface DrainableServer {
  /**
   * Stops accepting connections and lets the requests already here finish: each response from now on
   * carries `Connection: close` (clients stop reusing the socket), idle keep-alive sockets are closed,
   * and whatever is still open after `timeoutMs` is closed by force. Resolves once every connection is gone.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/** Tracks the requests in flight on `server` so a later drain can tell their connections to close. */
export function drainable(server: Server): DrainableServer {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return {
    async drain(timeoutMs) {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      // http.Server#close would also destroy every idle keep-alive socket at once, including one whose
      // next request is already in its buffer (sent before the signal, not yet read): that client would
      // see a reset. Stop listening only; idle sockets are closed once they have stayed idle a moment.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_GRACE_MS);
      let cut = 0;
      const deadline = setTimeout(() => {
        server.getConnections((_error, count) => {
          cut = count;
          server.closeAllConnections();
        });
      }, timeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
      return { cut };
    },
  };
}

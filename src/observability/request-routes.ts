import type { IncomingMessage } from 'node:http';

/**
 * Where the tracing hook (src/observability/trace-pipeline.ts), which sees only node's request object,
 * learns the route template a request matched. The app registers, when the request starts, a way to
 * read the template (Koa's routers set it on their context only once they match); the hook asks when
 * the response has been sent. This module imports nothing at run time: tracing loads it before the
 * loader hooks are in place, and nothing it pulls in may load pg, ioredis or node:http early.
 */
const resolvers = new WeakMap<IncomingMessage, () => string | undefined>();

export function rememberRoute(req: IncomingMessage, resolve: () => string | undefined): void {
  resolvers.set(req, resolve);
}

/** The template (`/interaction/:uid`), never the raw path; undefined when no route matched. */
export function routeOf(req: IncomingMessage): string | undefined {
  return resolvers.get(req)?.();
}

import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

const VALID_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Gives every request an id (a proxy's X-Request-Id is reused only when TRUST_PROXY is on), echoes it in
 * the response, and logs one line per request with method, path (never the query: it may hold codes or
 * tokens), status and duration.
 */
export function requestContext(logger: Logger, trustProxy: boolean) {
  // The request line's fields are fixed and hold no secret (never the query), so it skips the redaction
  // paths, which cost more than the rest of the line; everything else logged for a request keeps them.
  const requestLines = logger.child({}, { redact: [] });
  return async (ctx: Context, next: Next): Promise<void> => {
    const incoming = ctx.get('x-request-id');
    const requestId = trustProxy && VALID_ID.test(incoming) ? incoming : randomUUID();
    // What logs for this request (the error presenter) binds the id itself: a child logger made here would
    // serialise its bindings through the redaction paths on every request (issue 13's profile).
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      requestLines.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}

import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { STORE_RETRY_AFTER_SECONDS } from '../../errors.ts';
import type { ClientAuthLimits } from '../../security/client-auth-limits.ts';

/** oidc-provider's routes that authenticate a client (token, introspection, revocation, pushed requests). */
const CLIENT_AUTH_PATHS: ReadonlySet<string> = new Set(['/token', '/token/introspection', '/token/revocation', '/request']);

/** oidc-provider's own body limit on these endpoints. */
const BODY_LIMIT = 56 * 1024;

/** The client_id of an HTTP Basic header (form-encoded, RFC 6749 §2.3.1), or undefined. */
function basicClientId(authorization: string): string | undefined {
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(authorization.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const raw = decoded.slice(0, colon);
  // Most client ids are plain: only an encoded one pays for the decoding.
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, '%20'));
  } catch {
    return raw;
  }
}

/**
 * Reads the whole body and puts it back with `stream.unshift` (Node's documented way to peek at a stream
 * for another consumer), so oidc-provider then reads it from the request as usual. Null when it is
 * larger than oidc-provider would accept (what was read is put back, and oidc-provider refuses it).
 * The loop stops once the parser has the complete message; the bytes go back before the stream can
 * emit 'end' (that is scheduled for the next tick and skipped while data is buffered).
 */
async function peekBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    let chunk: Buffer | null;
    while ((chunk = req.read() as Buffer | null) !== null) {
      chunks.push(chunk);
      size += chunk.length;
    }
    if (size > BODY_LIMIT) break;
    if (req.complete || req.readableEnded) break;
    await once(req, 'readable');
  }
  const body = Buffer.concat(chunks, size);
  if (size > 0) req.unshift(body);
  return size > BODY_LIMIT ? null : body;
}

function oauthError(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

/**
 * Middleware for oidc-provider itself (`provider.use`), so it runs inside the provider's request before
 * the client is authenticated and sees the provider's answer before it is sent:
 * - a (client, IP) over its limit gets 429 with Retry-After in OAuth's JSON error form;
 * - a 401 from the provider, which on these endpoints is always invalid_client (unknown client or wrong
 *   credentials: InvalidClientAuth), counts one failure before the response leaves.
 * The client is the one a Basic header names, else the body's client_id (the body is peeked, not taken:
 * oidc-provider still parses it itself); a request naming none is counted under the empty id.
 * The IP is the one app.ts uses: the rightmost X-Forwarded-For entry under TRUST_PROXY, else the socket.
 */
export function clientAuthLimiter(limits: ClientAuthLimits, logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path)) return next();
    let clientId = basicClientId(ctx.get('authorization'));
    // An empty body is not peeked: nothing could be put back, and oidc-provider reads it as empty anyway.
    if (clientId === undefined && ctx.is('application/x-www-form-urlencoded') && ctx.request.length !== 0) {
      const body = await peekBody(ctx.req);
      if (body !== null) clientId = new URLSearchParams(body.toString('utf8')).get('client_id') ?? undefined;
    }
    const key = clientId ?? '';
    const ip = ctx.ips.at(-1) ?? ctx.ip;
    // The limiter's store failing refuses the request (503): no limit must ever mean no limit checked.
    const unavailable = (error: unknown) => {
      logger.error({ err: error }, 'client authentication limit unavailable');
      ctx.remove('WWW-Authenticate');
      ctx.set('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
      oauthError(ctx, 503, 'temporarily_unavailable', 'The service is temporarily unavailable. Try again later.');
    };
    let verdict;
    try {
      verdict = await limits.check(key, ip);
    } catch (error) {
      return unavailable(error);
    }
    if (!verdict.ok) {
      ctx.set('Retry-After', String(verdict.error.retryAfterSeconds));
      return oauthError(ctx, 429, verdict.error.code, verdict.error.message);
    }
    await next();
    if (ctx.status !== 401) return;
    try {
      await limits.recordFailure(key, ip);
    } catch (error) {
      unavailable(error);
    }
  };
}

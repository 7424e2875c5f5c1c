import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { StoreUnavailableError } from '../errors.ts';
import { withdrawResponseEffects } from '../http/error-handler.ts';
import { asStoreUnavailable } from '../storage/unavailable.ts';
import type { ProviderPages } from './configuration.ts';

/** The outage a request of oidc-provider's ran into, between the server_error event and the middleware. */
const outages = new WeakMap<object, StoreUnavailableError>();

/**
 * oidc-provider's endpoints (/auth, /token, /userinfo, ...) catch every error themselves and answer an
 * adapter failure as `server_error` 500. Redis or Postgres being down is not our bug but a pause: these two
 * pieces turn it into what our own routes answer, 503 `temporarily_unavailable` with Retry-After, a page
 * or JSON as oidc-provider would choose, and no cookie or redirect for state that was never saved.
 * The listener hears every server_error (it logs the others); the middleware, outermost in the provider,
 * rewrites the response before it leaves. It also catches an outage in oidc-provider's last session save,
 * which runs outside the endpoints' error handlers and would otherwise reach Koa's bare 500.
 */
export function createStoreOutageHandling(pages: ProviderPages, logger: Logger) {
  const note = (ctx: Context, error: unknown): boolean => {
    const outage = asStoreUnavailable(error);
    if (!outage) return false;
    logger.error({ err: error }, 'oidc-provider request failed: a store is unavailable');
    outages.set(ctx, outage);
    return true;
  };

  return {
    /** For provider.on('server_error'): true when the error was an outage (answered 503 by the middleware). */
    onServerError: (ctx: Context, error: unknown): boolean => note(ctx, error),

    /** For provider.use, before anything else. */
    async middleware(ctx: Context, next: Next): Promise<void> {
      try {
        await next();
      } catch (error) {
        if (!note(ctx, error)) throw error;
      }
      const outage = outages.get(ctx);
      if (!outage) return;
      withdrawResponseEffects(ctx);
      ctx.remove('WWW-Authenticate');
      ctx.status = outage.status;
      ctx.set('Retry-After', String(outage.retryAfterSeconds));
      ctx.set('Cache-Control', 'no-store');
      const out = { error: outage.code, error_description: outage.message };
      // oidc-provider's own choice: a page only for a client that prefers HTML.
      if (ctx.accepts('json', 'html') === 'html') {
        await pages.renderError(ctx as Parameters<ProviderPages['renderError']>[0], out, outage);
      } else {
        ctx.body = out;
      }
    },
  };
}

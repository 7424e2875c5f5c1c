import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors.ts';

export class CrossSiteRequestError extends AppError {
  constructor() {
    super(403, 'cross_site_request', 'This form was sent from another site, so it was not accepted. Go back and try again.');
  }
}

export class CsrfTokenError extends AppError {
  constructor() {
    super(403, 'csrf_token_invalid', 'This form has expired or was not sent from this page. Go back, reload the page and try again.');
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Rejects state-changing requests a browser marks as cross-site (WEB-01): an Origin other than ours,
 * or Sec-Fetch-Site other than same-origin / none (none: the user typed or bookmarked it). Clients that
 * send neither header (scripts, old browsers) still need the synchronizer token checked by the handler.
 */
export function sameOriginOnly(issuer: string) {
  const ours = new URL(issuer).origin;
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin');
      const site = ctx.get('sec-fetch-site');
      // "Origin: null" is what Chrome sends for our own forms under Referrer-Policy: no-referrer, so it
      // proves nothing either way; Sec-Fetch-Site (and the synchronizer token) decide then.
      const foreignOrigin = origin !== '' && origin !== 'null' && origin !== ours;
      if (foreignOrigin || (site && site !== 'same-origin' && site !== 'none')) {
        throw new CrossSiteRequestError();
      }
    }
    await next();
  };
}

/**
 * Synchronizer tokens bound to what the form acts on (e.g. `interaction:<uid>`): an HMAC under the first
 * cookie secret, accepted under any configured secret so rotation by prepending keeps open forms valid.
 * A token taken from another interaction (the attacker's own) does not verify for this one.
 */
export function createCsrfTokens(secrets: readonly string[]) {
  const sign = (secret: string, binding: string) => createHmac('sha256', secret).update(`csrf:${binding}`).digest('base64url');
  return {
    issue: (binding: string) => sign(secrets[0]!, binding),
    /** @throws CsrfTokenError */
    verify(binding: string, token: unknown): void {
      if (typeof token === 'string' && token.length > 0) {
        const given = Buffer.from(token);
        for (const secret of secrets) {
          const expected = Buffer.from(sign(secret, binding));
          if (given.length === expected.length && timingSafeEqual(given, expected)) return;
        }
      }
      throw new CsrfTokenError();
    },
  };
}

export type CsrfTokens = ReturnType<typeof createCsrfTokens>;

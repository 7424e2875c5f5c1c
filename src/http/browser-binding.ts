import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';

/**
 * A random id per browser in a signed, HttpOnly cookie: what CSRF tokens of pages outside a sign-in
 * interaction (register, forgot/reset password) are bound to, so a token copied from the attacker's own
 * browser fails in the victim's (WEB-01). `__Host-` over https, like the session cookie.
 */
export function browserBinding(ctx: Context, https: boolean): string {
  const name = https ? '__Host-gh_browser' : 'gh_browser';
  let id = ctx.cookies.get(name, { signed: true });
  if (!id || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
    id = randomBytes(16).toString('base64url');
    ctx.cookies.set(name, id, { signed: true, httpOnly: true, sameSite: 'lax', secure: https, path: '/', overwrite: true });
  }
  return `browser:${id}`;
}

/**
 * Moves a one-time token from the link's URL into a short-lived cookie scoped to that page, so the
 * token is not left in the address bar, history or a Referer (REC-04).
 */
function stashToken(ctx: Context, https: boolean, path: string, token: string, maxAgeMs: number): void {
  ctx.cookies.set(stashName(path, https), token, { signed: true, httpOnly: true, sameSite: 'lax', secure: https, path, maxAge: maxAgeMs, overwrite: true });
}

/**
 * A mailed link lands on `path?token=`: the token moves into a cookie scoped to `path` and the browser
 * gets a 303 to the token-less URL (REC-04). Returns false, doing nothing, when there is no token.
 */
export function landFromMailLink(ctx: Context, https: boolean, path: string, maxAgeMs: number): boolean {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
  if (!token) return false;
  stashToken(ctx, https, path, token, maxAgeMs);
  ctx.status = 303;
  ctx.redirect(path);
  return true;
}

export function stashedToken(ctx: Context, https: boolean, path: string): string | undefined {
  return ctx.cookies.get(stashName(path, https), { signed: true }) ?? undefined;
}

export function clearStashedToken(ctx: Context, https: boolean, path: string): void {
  ctx.cookies.set(stashName(path, https), null, { path, secure: https, overwrite: true });
}

function stashName(path: string, https: boolean): string {
  return `${https ? '__Secure-' : ''}gh_token${path.replace(/[^a-z]/g, '_')}`;
}

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';

/** Keyed by the raw request, which our Koa context and oidc-provider's own context share. */
const states = new WeakMap<IncomingMessage, CspState>();

interface HeaderTarget {
  req: IncomingMessage;
  set(name: string, value: string): void;
}

export interface CspState {
  nonce: string;
  formActions: Set<string>;
  https: boolean;
}

function cspHeader(csp: CspState): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${csp.nonce}'`,
    "style-src 'self'",
    // Client logos are registered as https URLs (or data: in development).
    "img-src 'self' data: https:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    // Chrome also applies form-action to the redirects that follow a form POST, so a page whose form
    // ends at a client's redirect URI must name that origin; everything else stays 'self'.
    `form-action ${[...csp.formActions].join(' ')}`,
    ...(csp.https ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/** Random bytes for 256 nonces, drawn at once: one randomBytes(16) per response cost several % of a token request's CPU. */
const NONCE_BYTES = 16;
let pool = Buffer.alloc(0);
let offset = 0;

/** 16 bytes of the CSPRNG no other nonce has used, base64: as unpredictable as a randomBytes(16) of its own. */
function freshNonce(): string {
  if (offset + NONCE_BYTES > pool.length) {
    pool = randomBytes(NONCE_BYTES * 256);
    offset = 0;
  }
  offset += NONCE_BYTES;
  return pool.toString('base64', offset - NONCE_BYTES, offset);
}

/**
 * A Content-Security-Policy with a fresh nonce per response (WEB-03). Any script we render carries
 * `nonce=cspNonce`; oidc-provider's own inline scripts (form_post) add their hash to this header.
 */
export function contentSecurityPolicy(https: boolean) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const csp: CspState = { nonce: freshNonce(), formActions: new Set(["'self'"]), https };
    states.set(ctx.req, csp);
    ctx.set('Content-Security-Policy', cspHeader(csp));
    await next();
  };
}

/** Lets this response's forms end at `url`'s origin (the client's redirect or post-logout URI). */
export function allowFormAction(ctx: HeaderTarget, url: string | undefined): void {
  const csp = states.get(ctx.req);
  const origin = url ? URL.parse(url)?.origin : undefined;
  if (!csp || !origin || origin === 'null') return;
  csp.formActions.add(origin);
  ctx.set('Content-Security-Policy', cspHeader(csp));
}

export function cspNonce(ctx: Pick<HeaderTarget, 'req'>): string | undefined {
  return states.get(ctx.req)?.nonce;
}

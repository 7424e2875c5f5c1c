import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Histogram, Registry } from 'prom-client';
import { isScrape, METRICS_PATH, writeMetrics } from './metrics-endpoint.ts';

/** Methods Node accepts are a fixed list already; anything outside the usual ones is one label value. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * oidc-provider's route templates per request. The provider serves a request on its own Koa context, so
 * the template it matched is handed to ours through the request object both share.
 */
const providerRoutes = new WeakMap<IncomingMessage, string>();

/** oidc-provider's route names whose path has no parameter (those the client-authentication limit guards among them). */
const STATIC_PROVIDER_ROUTES = [
  'authorization', 'token', 'userinfo', 'jwks', 'revocation', 'introspection', 'end_session', 'registration',
  'pushed_authorization_request', 'device_authorization', 'code_verification', 'backchannel_authentication',
];

/** Koa's router and oidc-provider's both leave the template they matched on the context. */
function matchedTemplate(ctx: object): string | undefined {
  const template = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof template === 'string' ? template : template instanceof RegExp ? String(template) : undefined;
}

/** The route template a request matched, ours or oidc-provider's (never the raw path); undefined when none did. */
export function routeTemplate(ctx: Context): string | undefined {
  return matchedTemplate(ctx) ?? providerRoutes.get(ctx.req);
}

/**
 * Middleware for one oidc-provider instance (`provider.use`): remembers the route template it matched,
 * for the request metrics and the trace spans.
 * A request answered before the provider routes it (the client-authentication limit's 429 at /token)
 * is named by its path when that path is one of the provider's fixed ones, so it is not "unmatched".
 */
export function providerRouteRecorder(provider: Provider) {
  const fixed = new Set<string>();
  for (const name of STATIC_PROVIDER_ROUTES) {
    try {
      fixed.add(provider.pathFor(name));
    } catch {
      // a feature that is off has no route
    }
  }
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } finally {
      const route = matchedTemplate(ctx) ?? (fixed.has(ctx.path) ? ctx.path : undefined);
      if (route) providerRoutes.set(ctx.req, route);
    }
  };
}

/**
 * The outermost middleware: times every request until its response is sent (or the client goes away)
 * and labels it with the route template, never the raw path (`/interaction/:uid/login`, not the uid),
 * so label values stay few; no route → "unmatched". With `scrape` it also answers GET /metrics itself,
 * before any other middleware.
 */
export function httpMetrics(histogram: Histogram<'method' | 'route' | 'status'>, scrape: Registry | undefined): Middleware {
  return async (ctx: Context, next: Next) => {
    const stop = histogram.startTimer();
    const serving = scrape !== undefined && isScrape(ctx.method, ctx.path);
    // 'close' follows 'finish' on a completed response and also fires when the client aborts.
    ctx.res.once('close', () => {
      const route = serving ? METRICS_PATH : (routeTemplate(ctx) ?? 'unmatched');
      stop({
        method: METHODS.has(ctx.method) ? ctx.method : 'OTHER',
        route,
        status: ctx.res.headersSent ? String(ctx.res.statusCode) : 'aborted',
      });
    });
    if (!serving) return next();
    ctx.respond = false;
    await writeMetrics(scrape, ctx.req, ctx.res);
  };
}

import type { Context, Next } from 'koa';
import { isLocale, negotiateLocale, pickUiLocale, type Locale } from '../../i18n/locales.ts';

declare module 'koa' {
  interface DefaultState {
    /** The language of this response's page, set by `requestLocale` (refined by an interaction's ui_locales). */
    locale?: Locale;
  }
}

/**
 * Sets `ctx.state.locale` for our own pages and the error presenter: `ui_locales` in the query of a GET
 * (a link that asks for a language), then Accept-Language, then the configured default.
 */
export function requestLocale(defaultLocale: Locale) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const query = ctx.method === 'GET' ? ctx.query.ui_locales : undefined;
    ctx.state.locale = negotiateLocale({
      uiLocales: typeof query === 'string' ? query : undefined,
      acceptLanguage: ctx.get('accept-language'),
      fallback: defaultLocale,
    });
    await next();
  };
}

/**
 * An interaction's `ui_locales` (sent by the application with the authorization request and kept by
 * oidc-provider for the whole flow) wins over the browser's headers, on its pages and on its errors.
 */
export function preferUiLocales(ctx: Context, uiLocales: unknown): Locale {
  const locale = pickUiLocale(typeof uiLocales === 'string' ? uiLocales : undefined) ?? localeOf(ctx);
  ctx.state.locale = locale;
  return locale;
}

/** English if a route was reached without `requestLocale` (it is wired first, so only by mistake). */
export function localeOf(ctx: Context): Locale {
  const locale: unknown = ctx.state.locale;
  return isLocale(locale) ? locale : 'en';
}

import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/load.ts';
import type { Render } from '../http/render.ts';
import { allowFormAction, cspNonce } from '../http/middleware/security-headers.ts';
import { negotiateLocale, type Locale } from '../i18n/locales.ts';
import { errorMessageKey, translator } from '../i18n/translate.ts';
import type { ProviderPages } from './configuration.ts';

/**
 * oidc-provider's own pages (errors, RP-initiated logout) rendered through our layout. They run in
 * oidc-provider's Koa context, not ours (no ctx.state.locale), so they negotiate the language here:
 * the request's ui_locales (end_session accepts it too), then Accept-Language, then the default.
 */
export function createProviderPages(render: Render, config: Config): ProviderPages {
  const localeOf = (ctx: KoaContextWithOIDC): Locale => {
    // ctx.oidc is missing when the error happened before oidc-provider set up the request.
    const uiLocales: unknown = (ctx.oidc as KoaContextWithOIDC['oidc'] | undefined)?.params?.ui_locales;
    return negotiateLocale({
      uiLocales: typeof uiLocales === 'string' ? uiLocales : undefined,
      acceptLanguage: ctx.get('accept-language'),
      fallback: config.defaultLocale,
    });
  };

  return {
    /** A friendly message by error code; oidc-provider's own (English, technical) description as detail. */
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      const locale = localeOf(ctx);
      const t = translator(locale);
      ctx.body = render('error', {
        title: 'error.title',
        locale,
        heading: t('error.heading.protocol'),
        message: t(errorMessageKey(out.error)),
        details: out.error_description,
        code: out.error,
        requestId: (ctx.state as { requestId?: string }).requestId,
      });
    },
    /**
     * The sign-out confirmation (SES-06). The session ends only when this form is POSTed with
     * oidc-provider's xsrf token. A request carrying a valid id_token_hint proves a client the user
     * signed in to asked for it, so the page submits itself (a nonce'd script; without JavaScript the
     * user presses the button).
     */
    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      allowFormAction(ctx, ctx.oidc.params?.post_logout_redirect_uri as string | undefined);
      ctx.body = render('logout', {
        title: 'logout.title',
        locale: localeOf(ctx),
        form,
        clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
        autoSubmit: ctx.oidc.entities.IdTokenHint !== undefined,
        nonce: cspNonce(ctx),
      });
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = render('logged-out', { title: 'loggedOut.title', locale: localeOf(ctx), clientName: ctx.oidc.client?.clientName });
    },
  };
}

import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/load.ts';
import type { Render } from '../http/render.ts';
import { allowFormAction, cspNonce } from '../http/middleware/security-headers.ts';
import type { ProviderPages } from './configuration.ts';

/** oidc-provider's own pages (errors, RP-initiated logout) rendered through our layout. */
export function createProviderPages(render: Render, _config: Config): ProviderPages {
  return {
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = render('error', {
        title: 'Error',
        heading: 'The sign-in request could not be completed',
        message: out.error_description ?? 'The request was not valid.',
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
        title: 'Sign out',
        form,
        clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
        autoSubmit: ctx.oidc.entities.IdTokenHint !== undefined,
        nonce: cspNonce(ctx),
      });
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = render('logged-out', { title: 'Signed out', clientName: ctx.oidc.client?.clientName });
    },
  };
}

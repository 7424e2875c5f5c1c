import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Render } from '../http/render.ts';
import type { ProviderPages } from './configuration.ts';

/** oidc-provider's own pages (errors, RP-initiated logout) rendered through our layout. */
export function createProviderPages(render: Render): ProviderPages {
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
    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      ctx.type = 'html';
      ctx.body = render('logout', { title: 'Sign out', form, clientName: ctx.oidc.client?.clientName });
    },
    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      ctx.type = 'html';
      ctx.body = render('logged-out', { title: 'Signed out', clientName: ctx.oidc.client?.clientName });
    },
  };
}

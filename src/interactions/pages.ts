import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { CsrfTokens } from '../http/middleware/csrf.ts';
import { localeOf, preferUiLocales } from '../http/middleware/locale.ts';
import { allowFormAction, cspNonce } from '../http/middleware/security-headers.ts';
import type { PageModel, Render } from '../http/render.ts';
import { BadRequestError } from '../errors.ts';
import type { UpstreamButton } from '../upstream/providers.ts';
import { loadInteraction, type LoadedInteraction } from './context.ts';

export type InteractionPageModel = { title: PageModel['title']; [key: string]: unknown };

/** What every /interaction/:uid handler shares: loading, rendering a page of it, and its CSRF token. */
export interface InteractionPages {
  load(ctx: Context, provider: Provider): Promise<LoadedInteraction>;
  page(ctx: Context, loaded: LoadedInteraction, view: string, model: InteractionPageModel): void;
  /** @throws CsrfError */
  verifyCsrf(loaded: LoadedInteraction, token: string | undefined): void;
}

export function wrongStage(): BadRequestError {
  return new BadRequestError('This step of the sign-in is not available now. Go back and start again.', 'wrong_stage');
}

export function interactionPages(deps: { render: Render; csrf: CsrfTokens; registrationOpen: boolean; upstreams: readonly UpstreamButton[] }): InteractionPages {
  const csrfScope = (loaded: LoadedInteraction) => `interaction:${loaded.interaction.uid}`;
  return {
    /**
     * Loads the interaction and takes its language from the authorization request's ui_locales, so the
     * pages and any error after this point (CSRF, wrong stage) speak the language the application asked for.
     */
    async load(ctx, provider) {
      const loaded = await loadInteraction(ctx, provider);
      preferUiLocales(ctx, loaded.interaction.params.ui_locales);
      return loaded;
    },
    /** Every page of an interaction: its CSRF token, and form-action widened to where it may end (the client). */
    page(ctx, loaded, view, model) {
      allowFormAction(ctx, String(loaded.interaction.params.redirect_uri ?? ''));
      ctx.body = deps.render(view, {
        ...model,
        locale: localeOf(ctx),
        uid: loaded.interaction.uid,
        client: loaded.client,
        registrationOpen: deps.registrationOpen,
        upstreams: deps.upstreams,
        csrf: deps.csrf.issue(csrfScope(loaded)),
        // For the pages' scripts (the passkey buttons): script-src allows only this response's nonce.
        nonce: cspNonce(ctx),
      });
    },
    verifyCsrf(loaded, token) {
      deps.csrf.verify(csrfScope(loaded), token);
    },
  };
}

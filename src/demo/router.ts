import Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Config } from '../config/load.ts';
import type { Render } from '../http/render.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { DEMO_CLIENT_ID } from './seed.ts';

const COOKIE = 'gh_demo';

/**
 * A tiny relying party served by Gatehouse itself, development only (config.seedDemo): it signs in with
 * the seeded public client through openid-client, exactly as a real app would, and shows the ID token.
 */
export function demoRouter(config: Config, render: Render): Router {
  const router = new Router({ prefix: '/demo' });
  const redirectUri = `${config.issuer}/demo/callback`;
  let discovered: Promise<oidc.Configuration> | undefined;
  const discover = () =>
    (discovered ??= oidc
      .discovery(new URL(config.issuer), DEMO_CLIENT_ID, undefined, oidc.None(), {
        execute: config.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        discovered = undefined;
        throw error;
      }));

  router.use(noStore);
  // The demo plays a third-party app, so it stays English whatever the browser asks for.
  router.get('/', (ctx) => {
    ctx.body = render('demo/index', { title: 'demo.title', locale: 'en', issuer: config.issuer });
  });

  router.get('/login', async (ctx) => {
    const configuration = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    ctx.cookies.set(COOKIE, JSON.stringify({ verifier, state, nonce }), {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      path: '/demo',
      maxAge: 600_000,
    });
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const saved = ctx.cookies.get(COOKIE, { signed: true });
    if (!saved) {
      ctx.redirect('/demo');
      return;
    }
    const { verifier, state, nonce } = JSON.parse(saved) as { verifier: string; state: string; nonce: string };
    ctx.cookies.set(COOKIE, null, { path: '/demo' });
    const configuration = await discover();
    const current = new URL(ctx.originalUrl, config.issuer);
    let model;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      const endSession = oidc.buildEndSessionUrl(configuration, {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: `${config.issuer}/demo`,
      });
      model = { claims: JSON.stringify(tokens.claims(), null, 2), logoutUrl: endSession.href };
    } catch (error) {
      model = { failure: (error as Error).message };
    }
    ctx.body = render('demo/result', { title: 'demo.title', locale: 'en', ...model });
  });
  return router;
}

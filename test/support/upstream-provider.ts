import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Middleware } from 'koa';
import Provider, { type Configuration, type InteractionResults } from 'oidc-provider';

export interface UpstreamUser { email?: string; email_verified?: boolean; name?: string }

export interface Upstream {
  /** http://127.0.0.1:<port>, no trailing slash. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** sub -> claims; tests add users before signing in. */
  users: Map<string, UpstreamUser>;
  /** When true, the token endpoint's id_token has a corrupted signature (a byte of the signature part changed). */
  tamper: { idTokenSignature: boolean };
  /** Authorization requests the upstream received (their query params), for asserting PKCE S256, state, nonce, scope. */
  authorizationRequests: URLSearchParams[];
  /** Every token the token endpoint handed out (access, refresh, ID), for proving Gatehouse keeps none of them. */
  issuedTokens: string[];
  close(): Promise<void>;
}

/**
 * A real upstream OpenID provider (oidc-provider with its in-memory adapter) on loopback, standing in for
 * Google or a company sign-in in tests. One confidential client; its sign-in page is a single form: type a
 * known `sub` and click "Sign in" (login and consent in one step), or click "Cancel" (access_denied).
 * A second sign-in from the same cookie jar or browser passes through without the form: the upstream
 * remembers its session and grant, as Google does.
 */
export async function startUpstream(options: { redirectUris: string[]; clientId?: string; clientSecret?: string }): Promise<Upstream> {
  // Listening first: the issuer (and so the provider) needs the port.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const upstream: Upstream = {
    issuer,
    clientId: options.clientId ?? 'gatehouse',
    clientSecret: options.clientSecret ?? randomBytes(24).toString('base64url'),
    users: new Map(),
    tamper: { idTokenSignature: false },
    authorizationRequests: [],
    issuedTokens: [],
    close: async () => {
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      // Keep-alive connections from fetch would hold close() open until they time out.
      server.closeAllConnections();
      await closed;
    },
  };

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const provider = quietly(() => new Provider(issuer, configuration(upstream, options.redirectUris, signingKey)));
  // Before oidc-provider's own middleware: the request as the relying party sent it, and the token
  // response's body while it is still an object (Koa serializes it after every middleware returned).
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth' && ctx.method === 'GET') upstream.authorizationRequests.push(new URLSearchParams(ctx.querystring));
    await next();
    if (ctx.path === '/token' && ctx.status === 200) {
      const body = ctx.body as { id_token?: string; access_token?: string; refresh_token?: string };
      upstream.issuedTokens.push(...[body.access_token, body.refresh_token, body.id_token].filter((token): token is string => typeof token === 'string'));
      if (body.id_token && upstream.tamper.idTokenSignature) body.id_token = corruptSignature(body.id_token);
    }
  });
  provider.use(interactionPages(provider, upstream));
  server.on('request', provider.callback());
  return upstream;
}

/** One confidential client, PKCE S256 required, scopes openid email profile with their claims in the ID token. */
function configuration(upstream: Upstream, redirectUris: string[], key: JWK): Configuration {
  return {
    jwks: { keys: [key] } as Configuration['jwks'],
    clients: [{
      client_id: upstream.clientId,
      client_secret: upstream.clientSecret,
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // oidc-provider accepts client_secret_post from a client registered for client_secret_basic (and back).
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // Gatehouse's own oidc-provider cookies share the 127.0.0.1 host in a browser (cookies ignore ports) and
    // the test UserAgent's jar, which keys cookies by name only.
    cookies: {
      names: { session: 'up_session', interaction: 'up_interaction', resume: 'up_resume' },
      keys: [randomBytes(32).toString('hex')],
    },
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Like Google, put the granted claims in the ID token, where the relying party reads them.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    responseTypes: ['code'],
    findAccount: (_ctx, sub) => {
      const user = upstream.users.get(sub);
      return user && { accountId: sub, claims: () => ({ sub, ...user }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    // Set explicitly: each default prints a "you SHOULD change it" notice the first time it is called.
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 3600 },
    clientBasedCORS: () => false,
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Upstream error', `<p id="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
    },
  };
}

/**
 * The sign-in page at /interaction/:uid and its form's target /interaction/:uid/login. A known `sub` finishes
 * login and consent at once: a Grant for the requested scopes is saved and passed as `consent.grantId`, so
 * oidc-provider has nothing left to ask. (Only scopes: the claims request parameter is not enabled here.)
 */
function interactionPages(provider: Provider, upstream: Upstream): Middleware {
  return async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    const isForm = ctx.method === 'GET' && !match?.[2];
    if (!match || (!isForm && ctx.method !== 'POST')) return next();
    ctx.set('cache-control', 'no-store');
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (isForm) return renderSignIn(ctx, match[1]!, 200);

    const form = await readForm(ctx.req);
    let result: InteractionResults;
    if (form.get('action') === 'cancel') {
      result = { error: 'access_denied', error_description: 'The user cancelled the upstream sign-in.' };
    } else {
      const sub = form.get('sub') ?? '';
      if (!upstream.users.has(sub)) return renderSignIn(ctx, match[1]!, 400, 'No such user.');
      const grant = new provider.Grant({ accountId: sub, clientId: String(interaction.params['client_id']) });
      grant.addOIDCScope(String(interaction.params['scope'] ?? 'openid'));
      result = { login: { accountId: sub }, consent: { grantId: await grant.save() } };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.redirect(returnTo);
    ctx.status = 303;
  };
}

function renderSignIn(ctx: Parameters<Middleware>[0], uid: string, status: number, error?: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page('Upstream sign-in', `<h1>Upstream sign-in</h1>${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="sub">Subject</label> <input type="text" id="sub" name="sub" autocomplete="off" required>
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main>${body}</main></body></html>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The form body of a POST (urlencoded, small: one field and a button). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Flips one bit of the signature's first byte: the token still parses and its claims are intact, only the
 * signature no longer verifies. (Editing the last base64url character could touch only padding bits.)
 */
function corruptSignature(jwt: string): string {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

/**
 * Runs the constructor with oidc-provider's "quick start development-only" warning (the in-memory adapter,
 * which is the point here) kept out of the test output; any other warning still prints.
 */
function quietly<T>(construct: () => T): T {
  const { warn } = console;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: a quick start development-only')) return;
    warn(...args);
  };
  try {
    return construct();
  } finally {
    console.warn = warn;
  }
}

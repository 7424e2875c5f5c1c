/**
 * The benchmark's baseline: a bare oidc-provider as anyone would set it up from its README, with the
 * plain Redis adapter of its examples, static clients, and a minimal login interaction (one form, one
 * argon2id verify of the account's stored hash, login and consent in one step). It issues the same token
 * formats as Gatehouse (opaque by default, RFC 9068 JWT or opaque per API through resource indicators),
 * signs with Gatehouse's own keys, and reads accounts from the same database. Run by bench/run.ts as its
 * own process, with its settings in BASELINE_SETTINGS.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import argon2 from 'argon2';
import { Redis } from 'ioredis';
import { Kysely, PostgresDialect } from 'kysely';
import Provider, { errors, type Configuration } from 'oidc-provider';
import pg from 'pg';
import { findAccountByEmail, findAccountById } from '../../src/storage/postgres/accounts.queries.ts';
import type { Database } from '../../src/storage/postgres/database.ts';
import { API_SCOPE, APIS, SERVICE, WEB, type BaselineSettings } from '../support/bench-fixtures.ts';
import { plainRedisAdapter } from './redis-adapter.ts';

const settings = JSON.parse(process.env.BASELINE_SETTINGS!) as BaselineSettings;
const redis = new Redis(settings.redisUrl, { keyPrefix: settings.redisKeyPrefix });
// Gatehouse's own account queries on a plain pool of its default size (DATABASE_POOL_MAX 10).
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: settings.databaseUrl, max: 10 }) }) });
const apis = new Map<string, 'jwt' | 'opaque'>(Object.values(APIS).map((api) => [api.identifier, api.format]));

const configuration: Configuration = {
  adapter: plainRedisAdapter(redis),
  clients: [
    { client_id: WEB.id, client_secret: WEB.secret, redirect_uris: [WEB.redirectUri], grant_types: ['authorization_code', 'refresh_token'], scope: WEB.scope },
    { client_id: SERVICE.id, client_secret: SERVICE.secret, redirect_uris: [], response_types: [], grant_types: ['client_credentials'], scope: API_SCOPE },
  ],
  jwks: JSON.parse(readFileSync(settings.jwksFile, 'utf8')) as Configuration['jwks'],
  async findAccount(_ctx, id) {
    const account = await findAccountById(db, id);
    return account && { accountId: id, claims: () => ({ sub: id, email: account.email, email_verified: account.email_verified, name: account.name ?? undefined }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'email', 'profile', API_SCOPE],
  responseTypes: ['code'],
  pkce: { required: () => true },
  // As Gatehouse: only a public client's refresh tokens rotate.
  rotateRefreshToken: (ctx) => ctx.oidc.entities.Client?.clientAuthMethod === 'none',
  clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256' },
  cookies: {
    keys: settings.cookieKeys,
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  },
  ttl: {
    AccessToken: settings.ttl.accessToken,
    ClientCredentials: settings.ttl.accessToken,
    IdToken: settings.ttl.idToken,
    RefreshToken: settings.ttl.refreshToken,
    Session: settings.ttl.session,
    Interaction: settings.ttl.interaction,
    Grant: settings.ttl.refreshToken,
    AuthorizationCode: 60,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf!,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        const format = apis.get(indicator);
        if (!format) throw new errors.InvalidTarget();
        return { scope: API_SCOPE, audience: indicator, accessTokenTTL: settings.ttl.accessToken, accessTokenFormat: format, ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}) };
      },
    },
  },
};
const provider = new Provider(settings.issuer, configuration);
const protocol = provider.callback();

const page = (uid: string, message = '') => `<!doctype html><title>Sign in</title>${message}
<form method="post" action="/interaction/${uid}/login"><input name="email" type="email"><input name="password" type="password"><button>Sign in</button></form>`;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

/** POST /interaction/:uid/login: one argon2id verify, then login and consent (the requested scopes) at once. */
async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const details = await provider.interactionDetails(req, res);
  const account = await findAccountByEmail(db, form.get('email') ?? '');
  const ok = account?.password_hash ? await argon2.verify(account.password_hash, form.get('password') ?? '') : false;
  if (!account || !ok) {
    res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page(details.uid, '<p>Wrong email or password.</p>'));
    return;
  }
  const { params } = details;
  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing?.accountId === account.id ? existing : new provider.Grant({ accountId: account.id, clientId: String(params.client_id) });
  const scope = String(params.scope ?? '');
  const granted = new Set(grant.getOIDCScope().split(' '));
  let grantId = grant.jti;
  if (!grantId || !scope.split(' ').every((name) => granted.has(name))) {
    grant.addOIDCScope(scope);
    if (typeof params.resource === 'string') grant.addResourceScope(params.resource, scope);
    grantId = await grant.save();
  }
  await provider.interactionFinished(req, res, { login: { accountId: account.id }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

const server = createServer((req, res) => {
  const match = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url ?? '');
  if (!match) return void protocol(req, res);
  const work = req.method === 'POST' && match[2]
    ? login(req, res)
    : provider.interactionDetails(req, res).then((details) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page(details.uid)));
  work.catch((error: unknown) => {
    if (!res.headersSent) res.writeHead(500).end(String(error));
  });
});
server.listen(settings.port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  redis.disconnect();
  process.exit(0);
});

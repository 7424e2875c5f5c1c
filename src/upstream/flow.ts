import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { upstreamCallbackPath } from '../config/upstreams.ts';
import { AppError } from '../errors.ts';
import { sameSecret } from '../security/client-secret-digest.ts';
import type { Upstreams } from './providers.ts';

/**
 * The authorization code flow at an upstream provider, done by openid-client: code + PKCE (S256), state
 * and nonce. What the callback must match travels in a signed, HttpOnly cookie scoped to that
 * provider's callback path and named after the flow's state (so two tabs' flows do not overwrite each
 * other): only the browser that started the flow sends it back (a callback opened in another browser,
 * or forged into this one, finds no cookie for its state), it carries its own start time (refused after
 * PENDING_MAX_AGE_MS even if a browser kept it), and it is cleared at the first callback that matches,
 * so a replayed callback finds nothing to complete.
 */

/** Where the flow returns: a sign-in interaction, or the account page linking another provider. */
export type UpstreamTarget = { purpose: 'sign-in'; uid: string } | { purpose: 'link'; accountId: string };

const pendingSchema = z.object({
  target: z.discriminatedUnion('purpose', [
    z.object({ purpose: z.literal('sign-in'), uid: z.string().min(1).max(100) }),
    z.object({ purpose: z.literal('link'), accountId: z.string().min(1).max(100) }),
  ]),
  state: z.string().min(20),
  nonce: z.string().min(20),
  verifier: z.string().min(43),
  /** When the flow started (ms since the epoch). */
  startedAt: z.number().int(),
});
type Pending = z.infer<typeof pendingSchema>;

/** What the upstream vouched for, from its validated ID token; its tokens themselves are dropped here. */
export interface UpstreamClaims {
  subject: string;
  email: string | undefined;
  /** True only when the upstream says so in so many words (`email_verified: true`). */
  emailVerified: boolean;
  name: string | undefined;
}

export type UpstreamOutcome = { ok: true; claims: UpstreamClaims } | { ok: false; reason: 'cancelled' | 'failed' };

/** The callback does not belong to a flow this browser started (another browser, expired, forged or replayed). */
export class UpstreamCallbackError extends AppError {
  constructor() {
    super(400, 'invalid_upstream_callback', 'This answer from the sign-in provider does not belong to anything this browser started: it was started in another browser, has already been used, or took too long. Start again.');
  }
}

/** A flow must come back within this long (an upstream sign-in with a second factor fits well inside). */
const PENDING_MAX_AGE_MS = 10 * 60 * 1000;
/** One cookie per flow: its name holds a digest of the state, which the callback brings back in its query. */
const cookieName = (https: boolean, id: string, state: string) =>
  `${https ? '__Secure-' : ''}gh_upstream_${id}_${createHash('sha256').update(state).digest('base64url').slice(0, 16)}`;

export interface UpstreamFlowDeps {
  upstreams: Upstreams;
  https: boolean;
  /** Milliseconds since the epoch; defaults to Date.now. */
  clock?: () => number;
}

/**
 * Starts a flow at provider `id` for `target`: sets the pending cookie and returns where to send the browser.
 * @throws UpstreamUnavailableError when the provider's discovery document cannot be fetched.
 */
export async function startUpstreamFlow(deps: UpstreamFlowDeps, ctx: Context, id: string, target: UpstreamTarget): Promise<URL> {
  const upstream = deps.upstreams.get(id)!;
  const config = await deps.upstreams.client(id);
  const now = deps.clock ?? Date.now;
  const pending: Pending = { target, state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), startedAt: now() };
  ctx.cookies.set(cookieName(deps.https, id, pending.state), Buffer.from(JSON.stringify(pending)).toString('base64url'), {
    signed: true,
    httpOnly: true,
    // lax: the upstream sends the browser back with a top-level GET from its own site.
    sameSite: 'lax',
    secure: deps.https,
    path: upstreamCallbackPath(id),
    maxAge: PENDING_MAX_AGE_MS,
    overwrite: true,
  });
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: deps.upstreams.callbackUrl(id),
    scope: upstream.scopes,
    code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
}

function readPending(ctx: Context, deps: UpstreamFlowDeps, id: string, state: string): Pending | undefined {
  const raw = ctx.cookies.get(cookieName(deps.https, id, state), { signed: true });
  if (!raw) return undefined;
  try {
    const parsed = pendingSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (!parsed.success) return undefined;
    const age = (deps.clock ?? Date.now)() - parsed.data.startedAt;
    return age >= 0 && age <= PENDING_MAX_AGE_MS ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Completes the flow at the callback: matches the pending cookie and the state, then lets openid-client
 * redeem the code with the PKCE verifier and validate the ID token (issuer, audience, signature, nonce,
 * expiry). An upstream error or a refused exchange is an outcome (the user goes back to where they
 * started with a plain message); a callback this browser did not start is an error.
 * @throws UpstreamCallbackError when there is no pending flow in this browser or the state differs.
 */
export async function completeUpstreamFlow(
  deps: UpstreamFlowDeps & { log: (error: unknown) => void },
  ctx: Context,
  id: string,
): Promise<{ target: UpstreamTarget; outcome: UpstreamOutcome }> {
  const state = typeof ctx.query.state === 'string' && ctx.query.state.length <= 200 ? ctx.query.state : '';
  // A wrong state finds no cookie and leaves the real flow's alone: a forged callback spoils nothing.
  const pending = state ? readPending(ctx, deps, id, state) : undefined;
  if (!pending || !sameSecret(pending.state, state)) throw new UpstreamCallbackError();
  ctx.cookies.set(cookieName(deps.https, id, state), '', { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.https, path: upstreamCallbackPath(id), maxAge: 0, overwrite: true });
  if (typeof ctx.query.error === 'string') {
    return { target: pending.target, outcome: { ok: false, reason: ctx.query.error === 'access_denied' ? 'cancelled' : 'failed' } };
  }
  try {
    const config = await deps.upstreams.client(id);
    const callback = new URL(deps.upstreams.callbackUrl(id));
    callback.search = new URL(ctx.originalUrl, 'http://callback.invalid').search;
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    return {
      target: pending.target,
      outcome: {
        ok: true,
        claims: {
          subject: claims.sub,
          email: typeof claims.email === 'string' ? claims.email : undefined,
          emailVerified: claims.email_verified === true,
          name: typeof claims.name === 'string' ? claims.name : undefined,
        },
      },
    };
  } catch (error) {
    deps.log(error);
    return { target: pending.target, outcome: { ok: false, reason: 'failed' } };
  }
}

import * as oidc from 'openid-client';
import type { Transport, UserAgent } from './browserless.ts';
import { buildAuthorization, signIn } from './e2e.ts';

/** The `kid` in a JWT's header. */
export function kidOf(jwt: string): string {
  return (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

/**
 * A relying party on openid-client that checks every ID token's signature against the issuer's JWKS
 * (enableNonRepudiationChecks: fetched once, cached, refetched on an unknown `kid` once the copy is 60 s
 * old, and after 300 s in any case), reaching Gatehouse through `transport`.
 */
export async function discoverRelyingParty(issuer: string, clientId: string, secret: string, transport: Transport): Promise<oidc.Configuration> {
  const rp = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(secret), { [oidc.customFetch]: transport });
  oidc.enableNonRepudiationChecks(rp);
  return rp;
}

/**
 * The same relying party as if `seconds` had passed since it last fetched the JWKS: a new configuration
 * given its cached JWKS (openid-client's own persisted-cache API) with the fetch time moved back.
 * Tests that move Gatehouse's key schedule forward move the relying party's clock with it.
 */
export function agedRelyingParty(rp: oidc.Configuration, seconds: number, secret: string, transport: Transport): oidc.Configuration {
  const next = new oidc.Configuration(rp.serverMetadata(), rp.clientMetadata().client_id, undefined, oidc.ClientSecretBasic(secret));
  next[oidc.customFetch] = transport;
  oidc.enableNonRepudiationChecks(next);
  const cache = oidc.getJwksCache(rp);
  if (cache) oidc.setJwksCache(next, { ...cache, uat: cache.uat - seconds });
  return next;
}

export interface SignInLoopOptions {
  issuer: string;
  user: { email: string; password: string };
  /** The relying party to use for the next sign-in (a test may swap it between sign-ins). */
  relyingParty(): oidc.Configuration;
  /** A fresh browser for each sign-in. */
  browser(): UserAgent;
}

/**
 * Signs the user in again and again, as real traffic would while a test restarts instances or rotates
 * keys: the sign-in pages and consent, the code exchange and one refresh, each ID token checked by the
 * relying party. Counts what succeeded, keeps each failure's message and the kids that signed.
 */
export class SignInLoop {
  successes = 0;
  readonly failures: string[] = [];
  /** The kid of every ID token the relying party accepted, in order. */
  readonly kids: string[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private readonly options: SignInLoopOptions;

  constructor(options: SignInLoopOptions) {
    this.options = options;
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.once().then(
        () => void (this.successes += 1),
        (error: unknown) => void this.failures.push(error instanceof Error ? `${error.message} ${JSON.stringify(error.cause ?? '')}` : String(error)),
      );
    }
  }

  private async once(): Promise<void> {
    const { issuer, user } = this.options;
    const rp = this.options.relyingParty();
    const auth = await buildAuthorization(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const callback = await signIn(this.options.browser(), issuer, auth.url, user.email, user.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    this.kids.push(kidOf(tokens.id_token!), kidOf(refreshed.id_token!));
  }

  /** Resolves once `count` more sign-ins have succeeded (or fails the test after `timeoutMs`). */
  async more(count: number, timeoutMs = 30_000): Promise<void> {
    const target = this.successes + count;
    const deadline = Date.now() + timeoutMs;
    while (this.successes < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.successes} sign-ins; ${this.failures.length} failed, first: ${this.failures.slice(0, 3).join(' | ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Lets the sign-in under way finish and starts no other. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

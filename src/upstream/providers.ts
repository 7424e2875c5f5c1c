import * as oidc from 'openid-client';
import type { UpstreamConfig } from '../config/upstreams.ts';
import { upstreamCallbackPath } from '../config/upstreams.ts';
import { AppError } from '../errors.ts';

/** The upstream's discovery document or keys could not be fetched: the user is told to try later or sign in another way. */
export class UpstreamUnavailableError extends AppError {
  constructor(cause: unknown) {
    super(503, 'upstream_unavailable', 'That sign-in provider cannot be reached right now. Try again in a moment, or sign in another way.', { cause, expose: true });
  }
}

/** What the sign-in page shows of a provider. */
export interface UpstreamButton {
  id: string;
  name: string;
}

/** The configured upstream providers and their openid-client configurations, discovered on first use. */
export interface Upstreams {
  /** Every provider, in id order (the sign-in page's buttons and the account page's list). */
  list(): readonly UpstreamButton[];
  get(id: string): UpstreamConfig | undefined;
  /** Where this provider sends the browser back (register it at the provider). */
  callbackUrl(id: string): string;
  /**
   * The provider's discovered configuration, with ID token signatures checked (openid-client skips them
   * by default for tokens fetched straight from the token endpoint; we never trust the channel alone).
   * @throws UpstreamUnavailableError when discovery fails (remembered for 30 s, then tried again).
   */
  client(id: string): Promise<oidc.Configuration>;
}

/** Re-read discovery documents this often, so an upstream's moved endpoints are followed without a restart. */
const DISCOVERY_MAX_AGE_MS = 24 * 3600 * 1000;
/** A failed discovery is remembered this long: pages that ask for the provider do not each wait for it while it is down. */
const DISCOVERY_FAILURE_MAX_AGE_MS = 30 * 1000;
/** Seconds any one request to an upstream may take before the sign-in fails with a plain message. */
const UPSTREAM_TIMEOUT_SECONDS = 10;

/**
 * @param fetchImpl replaces fetch for every request to the upstreams (tests assert what would be fetched
 *   without a network); production leaves it unset.
 */
export function createUpstreams(upstreams: readonly UpstreamConfig[], issuer: string, clock: () => number = Date.now, fetchImpl?: oidc.CustomFetch): Upstreams {
  const byId = new Map(upstreams.map((upstream) => [upstream.id, upstream]));
  const discovered = new Map<string, { at: number; config: Promise<oidc.Configuration>; failed: boolean }>();

  async function discover(upstream: UpstreamConfig): Promise<oidc.Configuration> {
    // http is accepted by the config only on loopback (a local IdP, the tests' upstream).
    const insecure = upstream.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [];
    try {
      // The timeout carries over to every later request made with this configuration.
      return await oidc.discovery(new URL(upstream.issuer), upstream.clientId, upstream.clientSecret, undefined, {
        execute: [...insecure, oidc.enableNonRepudiationChecks],
        timeout: UPSTREAM_TIMEOUT_SECONDS,
        ...(fetchImpl ? { [oidc.customFetch]: fetchImpl } : {}),
      });
    } catch (error) {
      throw new UpstreamUnavailableError(error);
    }
  }

  return {
    list: () => upstreams.map(({ id, name }) => ({ id, name })),
    get: (id) => byId.get(id),
    callbackUrl: (id) => `${issuer}${upstreamCallbackPath(id)}`,
    client(id) {
      const upstream = byId.get(id);
      if (!upstream) return Promise.reject(new Error(`no upstream ${id}`));
      const cached = discovered.get(id);
      if (cached && clock() - cached.at < (cached.failed ? DISCOVERY_FAILURE_MAX_AGE_MS : DISCOVERY_MAX_AGE_MS)) return cached.config;
      const entry: { at: number; config: Promise<oidc.Configuration>; failed: boolean } = { at: clock(), config: discover(upstream), failed: false };
      discovered.set(id, entry);
      entry.config.catch(() => {
        entry.at = clock();
        entry.failed = true;
      });
      return entry.config;
    },
  };
}

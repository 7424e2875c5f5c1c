import type { Context } from 'koa';
import { problemsByField, type PageContent } from '../http/form-pages.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { allowFormAction, cspNonce } from '../http/middleware/security-headers.ts';
import type { MessageKey } from '../i18n/translate.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { listUpstreamIdentities } from '../storage/postgres/upstream-identities.queries.ts';
import type { LinkResult } from '../upstream/router.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';
import { passkeyList } from './passkeys.ts';
import { isTwoStepOn } from './two-step.ts';

/**
 * The model of /account/security (views/account-settings/security.pug and the passkeys.pug and
 * upstreams.pug it includes), shared by every router whose forms live on that page, so an error
 * re-render from any of them shows the same page with the problem on its field. `nonce` lets the page
 * load the passkey scripts.
 */
export async function securityPageModel(deps: AccountSettingsDeps, ctx: Context, account: AccountRow, problems: SettingsProblem[] = []): Promise<PageContent> {
  return {
    title: 'settings.security.title',
    twoStepOn: await isTwoStepOn(deps, account.id),
    passkeys: await passkeyList(deps, account.id, localeOf(ctx)),
    problems: problemsByField(problems),
    nonce: cspNonce(ctx),
    ...(await upstreamSection(deps, ctx, account)),
  };
}

/** Field names of the upstream rows' problems, shared with src/account/upstream-routes.ts. */
export const upstreamRowField = (id: string) => `upstream-${id}`;
export const upstreamPasswordField = (id: string) => `upstream-${id}-password`;

/** How a link (the callback's `result`) or an unlink ended, as the page says it: news, or a problem. */
const RESULTS: Record<LinkResult | 'unlinked', { key: MessageKey; role: 'status' | 'alert' }> = {
  linked: { key: 'settings.upstream.done.linked', role: 'status' },
  unlinked: { key: 'settings.upstream.done.unlinked', role: 'status' },
  taken: { key: 'settings.upstream.problem.taken', role: 'alert' },
  cancelled: { key: 'settings.upstream.problem.cancelled', role: 'alert' },
  failed: { key: 'settings.upstream.problem.failed', role: 'alert' },
  signed_out: { key: 'settings.upstream.problem.signedOut', role: 'alert' },
};

/**
 * The "Sign in with another service" section: one row per configured provider, linked or not, and the
 * outcome named by `?upstream=&result=` (only a configured provider and a known result: the query is
 * anyone's to write, so it picks a message, never supplies one).
 */
async function upstreamSection(deps: AccountSettingsDeps, ctx: Context, account: AccountRow) {
  const providers = deps.upstreams.list();
  const hasPassword = account.password_hash !== null;
  // No provider configured (most deployments): nothing to list, no query on every page load.
  if (providers.length === 0) return { upstreams: [], hasPassword, upstreamResult: undefined };
  const identities = new Map((await listUpstreamIdentities(deps.db, account.id)).map((row) => [row.provider, row]));
  await allowUpstreamFormActions(deps, ctx, providers);
  const asked = providers.find((provider) => provider.id === ctx.query.upstream);
  const result = typeof ctx.query.result === 'string' && Object.hasOwn(RESULTS, ctx.query.result) ? RESULTS[ctx.query.result as keyof typeof RESULTS] : undefined;
  return {
    upstreams: providers.map(({ id, name }) => ({ id, name, linked: identities.has(id), email: identities.get(id)?.email ?? null })),
    hasPassword,
    upstreamResult: asked && result ? { ...result, name: asked.name } : undefined,
  };
}

/** How long the page waits for a provider's discovery document (cached after the first) before rendering without it. */
const DISCOVERY_WAIT_MS = 1000;

/**
 * The Link forms are answered with a 303 to the provider, and browsers check that redirect against the
 * page's form-action: it names each issuer's origin and, once discovery has answered, the origin of its
 * authorization endpoint (which may differ). Discovery that fails or is slow never fails the page: the
 * Link form itself reports an unreachable provider.
 */
async function allowUpstreamFormActions(deps: AccountSettingsDeps, ctx: Context, providers: readonly { id: string }[]): Promise<void> {
  await Promise.all(
    providers.map(async ({ id }) => {
      allowFormAction(ctx, deps.upstreams.get(id)?.issuer);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), DISCOVERY_WAIT_MS);
      });
      try {
        const config = await Promise.race([deps.upstreams.client(id), late]);
        allowFormAction(ctx, config?.serverMetadata().authorization_endpoint);
      } catch {
        // Unreachable provider: its issuer's origin is all the page can name; linking says why it fails.
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

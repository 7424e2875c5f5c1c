import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { signedInAccount } from '../account/signed-in.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { InteractionExpiredError, NotFoundError } from '../errors.ts';
import { noStore } from '../http/middleware/no-store.ts';
import { currentStage, InvalidStageError, type Stage } from '../interactions/state.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findUpstreamIdentity } from '../storage/postgres/upstream-identities.queries.ts';
import { completeUpstreamFlow, UpstreamCallbackError, type UpstreamOutcome } from './flow.ts';
import type { UpstreamLinks } from './linking.ts';
import type { Upstreams } from './providers.ts';

export interface UpstreamCallbackDeps {
  upstreams: Upstreams;
  https: boolean;
  db: Db;
  audit: AuditLog;
  links: UpstreamLinks;
  logger: Logger;
  provider(): Provider;
  /** Milliseconds since the epoch (the pending flow's expiry); Date.now when unset. */
  clock?: () => number;
}

/** Where the account page learns how linking went: /account/security?upstream={id}&result={result}. */
export type LinkResult = 'linked' | 'taken' | 'cancelled' | 'failed' | 'signed_out';

/**
 * GET /upstream/:id/callback, where every upstream sends the browser back (issue 12). The flow's checks
 * are src/upstream/flow.ts'; here its result goes where the flow started: into the sign-in interaction
 * (saved server-side, then the browser, which alone holds that interaction's cookie, is sent to it), or
 * to the signed-in account that asked to link this provider.
 */
export function upstreamCallbackRouter(deps: UpstreamCallbackDeps): Router {
  const router = new Router();
  router.use(noStore);
  const log = (error: unknown) => deps.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'upstream sign-in refused');

  router.get('/upstream/:id/callback', async (ctx) => {
    const id = String(ctx.params.id);
    if (!deps.upstreams.get(id)) throw new NotFoundError('There is no such sign-in provider.');
    const { target, outcome } = await completeUpstreamFlow({ ...deps, log }, ctx, id);
    if (target.purpose === 'sign-in') await intoInteraction(ctx, target.uid, id, outcome);
    else await intoAccount(ctx, target.accountId, id, outcome);
  });

  async function intoInteraction(ctx: Context, uid: string, id: string, outcome: UpstreamOutcome): Promise<void> {
    const interaction = await deps.provider().Interaction.find(uid);
    if (!interaction) throw new InteractionExpiredError();
    let stage: Stage;
    try {
      stage = currentStage({ prompt: interaction.prompt, session: interaction.session, result: interaction.result as Record<string, unknown> | undefined });
    } catch (error) {
      if (error instanceof InvalidStageError) throw new InteractionExpiredError();
      throw error;
    }
    // Only an interaction still at its sign-in form takes an upstream's answer: a replay finds it moved on.
    if (stage.name !== 'login') throw new UpstreamCallbackError();
    const clientId = String(interaction.params.client_id ?? '');
    let next: Stage;
    if (outcome.ok) {
      const { subject, email, emailVerified, name } = outcome.claims;
      next = { name: 'upstream', provider: id, subject, email, emailVerified, displayName: name };
    } else {
      await deps.audit.record({ type: 'sign_in', outcome: 'failure', reason: `upstream_${outcome.reason}`, clientId, details: { provider: id } }, ctx);
      next = { name: 'login', upstreamNotice: { reason: outcome.reason, provider: id } };
    }
    interaction.result = { gatehouse: next };
    await interaction.persist();
    ctx.status = 303;
    ctx.redirect(`/interaction/${encodeURIComponent(uid)}`);
  }

  async function intoAccount(ctx: Context, accountId: string, id: string, outcome: UpstreamOutcome): Promise<void> {
    const result = await linkResult(ctx, accountId, id, outcome);
    ctx.status = 303;
    ctx.redirect(`/account/security?${new URLSearchParams({ upstream: id, result })}`);
  }

  async function linkResult(ctx: Context, accountId: string, id: string, outcome: UpstreamOutcome): Promise<LinkResult> {
    // The account that asked must still be the one signed in here: a link never lands on another account.
    const account = await signedInAccount(deps.provider(), deps.db, ctx);
    if (!account || account.id !== accountId) return 'signed_out';
    if (!outcome.ok) return outcome.reason;
    const existing = await findUpstreamIdentity(deps.db, id, outcome.claims.subject);
    if (existing) return existing.account_id === account.id ? 'linked' : 'taken';
    const linked = await deps.links.link(ctx, account.id, { provider: id, subject: outcome.claims.subject, email: outcome.claims.email ?? null });
    return linked ? 'linked' : 'taken';
  }

  return router;
}

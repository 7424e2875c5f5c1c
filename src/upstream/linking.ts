import type { Context } from 'koa';
import type { AuditLog } from '../audit/audit-log.ts';
import { localeOf } from '../http/middleware/locale.ts';
import type { MailQueue } from '../recovery/ports.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import type { Db } from '../storage/postgres/db.ts';
import { deleteUpstreamIdentityUnlessLast, insertUpstreamIdentity } from '../storage/postgres/upstream-identities.queries.ts';
import type { Upstreams } from './providers.ts';

/** An upstream identity about to be linked: (provider, upstream sub), and the upstream's address for display. */
export interface IdentityToLink {
  provider: string;
  subject: string;
  email: string | null;
}

export interface UpstreamLinkDeps {
  db: Db;
  mail: MailQueue;
  audit: AuditLog;
  upstreams: Upstreams;
  issuer: string;
  now(): Date;
}

/** Links and unlinks upstream identities; each change is audited and mailed to the account's owner. */
export interface UpstreamLinks {
  /**
   * Links `identity` to the account, after the owner proved it is theirs (a sign-in with its own factors,
   * or the signed-in account page). Returns false, changing nothing, when the identity is already linked
   * (to any account) or the account already has one at that provider.
   */
  link(ctx: Context, accountId: string, identity: IdentityToLink): Promise<boolean>;
  /** Unlinks the account's identity at `provider`, unless it is the last way the account can sign in. */
  unlink(ctx: Context, accountId: string, provider: string): Promise<'unlinked' | 'last_method' | 'not_linked'>;
}

export function createUpstreamLinks(deps: UpstreamLinkDeps): UpstreamLinks {
  const tell = async (ctx: Context, account: AccountRow, provider: string, change: 'linked' | 'unlinked') => {
    await deps.audit.record({ type: change === 'linked' ? 'upstream_linked' : 'upstream_unlinked', accountId: account.id, details: { provider } }, ctx);
    await deps.mail.queue(account.email, 'sign-in-method-changed', localeOf(ctx), {
      change,
      provider: deps.upstreams.get(provider)?.name ?? provider,
      resetUrl: `${deps.issuer}/forgot-password`,
    });
  };
  return {
    async link(ctx, accountId, identity) {
      const account = await findAccountById(deps.db, accountId);
      if (!account) return false;
      const addressUnproven = !account.email_verified;
      const linked = await insertUpstreamIdentity(deps.db, { ...identity, accountId, addressUnproven, now: deps.now() });
      if (linked) await tell(ctx, account, identity.provider, 'linked');
      return linked;
    },
    async unlink(ctx, accountId, provider) {
      const configured = deps.upstreams.list().map((upstream) => upstream.id);
      const outcome = await deleteUpstreamIdentityUnlessLast(deps.db, accountId, provider, configured);
      const account = outcome === 'unlinked' ? await findAccountById(deps.db, accountId) : undefined;
      if (account) await tell(ctx, account, provider, 'unlinked');
      return outcome;
    },
  };
}

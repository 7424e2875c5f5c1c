import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { enrolledFactors, hasSecondFactor } from '../accounts/mfa/factors.ts';
import { noteSignInDevice, type KnownDevicesDeps } from '../accounts/known-devices.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { ACR } from '../oidc/acr.ts';
import { requiresMfa } from '../oidc/policy.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { UpstreamLinks } from '../upstream/linking.ts';
import { finishInteraction, saveStage, type LoadedInteraction } from './context.ts';
import { acrRequestOf, nextAfterFirstFactor, type NextStep, type PendingLink, type Stage } from './state.ts';

type Amr = Extract<Stage, { name: 'mfa' }>['amr'];
export type LoginResult = {
  accountId: string;
  amr: Amr;
  acr: string;
  remember: boolean;
};

/** OpenID Connect's answer when an essential acr cannot be met (OIDC Core errata: unmet_authentication_requirements). */
export const UNMET = {
  error: 'unmet_authentication_requirements',
  error_description: 'This account cannot sign in at the authentication level the application requires.',
};

/**
 * What every finished sign-in does besides resolving the prompt: the audit row, the new-browser check,
 * and linking the upstream identity the sign-in was proving ownership for (issue 12).
 */
export interface SignInEffects {
  audit: AuditLog;
  devices: KnownDevicesDeps;
  upstreamLinks: Pick<UpstreamLinks, 'link'>;
}

/** The upstream identity waiting for this sign-in to prove the account is its owner's, if any. */
function pendingLinkOf(stage: Stage): PendingLink | undefined {
  return 'link' in stage ? stage.link : undefined;
}

/**
 * Ends the login prompt with `login`, once every factor has passed (MFA-06). If the RP made an acr
 * essential that this sign-in does not meet, the spec's error goes back instead: finishing anyway would
 * only send oidc-provider straight back into another login prompt.
 */
export async function finishLogin(ctx: Context, provider: Provider, loaded: LoadedInteraction, login: LoginResult, effects: SignInEffects): Promise<void> {
  const { essential } = acrRequestOf(loaded.interaction.params);
  if (essential && !essential.includes(login.acr)) return finishInteraction(ctx, provider, UNMET);
  // Every factor has passed: only now does the upstream identity become a way into this account.
  const link = pendingLinkOf(loaded.stage);
  if (link) await effects.upstreamLinks.link(ctx, login.accountId, link);
  await effects.audit.record({ type: 'sign_in', accountId: login.accountId, clientId: clientIdOf(loaded), details: { amr: login.amr, acr: login.acr } }, ctx);
  await noteSignInDevice(effects.devices, ctx, login.accountId);
  await finishInteraction(ctx, provider, { login });
}

export const clientIdOf = (loaded: LoadedInteraction): string => String(loaded.interaction.params.client_id ?? '');

/** The class a sign-in reaches with its first factor alone: a password, or an upstream provider's sign-in. */
const FIRST_FACTOR_ACR = { pwd: ACR.password, fed: ACR.federated } as const;
export type FirstFactor = keyof typeof FIRST_FACTOR_ACR;

/** Which step follows a correct first factor for this account in this interaction. */
export async function nextStepFor(deps: { db: Db; mfaRequired: boolean }, loaded: LoadedInteraction, accountId: string, firstFactor: FirstFactor = 'pwd'): Promise<NextStep> {
  return nextAfterFirstFactor({
    hasSecondFactor: hasSecondFactor(await enrolledFactors(deps.db, accountId)),
    mfaRequired: requiresMfa({ required: deps.mfaRequired }, loaded.clientMetadata),
    acr: acrRequestOf(loaded.interaction.params),
    acrWithoutFactor: FIRST_FACTOR_ACR[firstFactor],
  });
}

/**
 * After a correct first factor (a password, or an upstream sign-in, issue 12): the second factor,
 * enrolment when policy requires one, the spec's error, or the end of the login prompt. The first
 * factor alone resolves nothing when more is due (MFA-06, MFA-08); `amr` and `acr` name what was used.
 */
export async function continueAfterFirstFactor(
  ctx: Context,
  provider: Provider,
  loaded: LoadedInteraction,
  deps: SignInEffects & { db: Db; mfaRequired: boolean },
  first: { accountId: string; remember: boolean; factor: FirstFactor; link?: PendingLink | undefined },
): Promise<void> {
  const next = await nextStepFor(deps, loaded, first.accountId, first.factor);
  const amr: Amr = [first.factor];
  const { accountId, remember, link } = first;
  switch (next.step) {
    case 'mfa':
    case 'enrol':
      return saveStage(ctx, provider, { name: next.step, accountId, amr, remember, failures: 0, ...(link ? { link } : {}) });
    case 'unmet':
      return finishInteraction(ctx, provider, UNMET);
    case 'finish':
      return finishLogin(ctx, provider, loaded, { accountId, remember, amr, acr: FIRST_FACTOR_ACR[first.factor] }, deps);
  }
}

import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { pendingOrNewSetup } from '../accounts/mfa/authenticator-setup.ts';
import { recoveryCodesFile as codesFile } from '../accounts/mfa/recovery-codes-file.ts';
import { enrolledFactors } from '../accounts/mfa/factors.ts';
import { generateRecoveryCodes, type RecoveryCodeDeps } from '../accounts/mfa/recovery-codes.ts';
import { verifySecondFactorCode } from '../accounts/mfa/second-factor-code.ts';
import { confirmTotpEnrolment, type TotpDeps } from '../accounts/mfa/totp.ts';
import type { KnownDevicesDeps } from '../accounts/known-devices.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { parseForm } from '../http/form-pages.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { ACR } from '../oidc/acr.ts';
import type { MailQueue } from '../recovery/ports.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { LoadedInteraction } from './context.ts';
import { clientIdOf, finishLogin, type SignInEffects } from './next-step.ts';
import { wrongStage, type InteractionPages } from './pages.ts';
import { countSecondFactorFailure } from './second-factor-failures.ts';
import type { Stage } from './state.ts';

export interface SecondFactorDeps {
  db: Db;
  totp: TotpDeps;
  recoveryCodes: RecoveryCodeDeps;
  mail: MailQueue;
  issuer: string;
  audit: AuditLog;
  devices: KnownDevicesDeps;
  /** Links the upstream identity a sign-in was proving ownership for, once its last factor passed (issue 12). */
  upstreamLinks: SignInEffects['upstreamLinks'];
  provider(): Provider;
}

const codeForm = z.object({ code: z.string().max(32).default(''), csrf: z.string().max(200).optional() });
const continueForm = z.object({ csrf: z.string().max(200).optional() });

type CodeStage = Extract<Stage, { name: 'mfa' | 'enrol' }>;

/**
 * The second step of a sign-in: a code (authenticator app or recovery code) for an enrolled factor, or,
 * when policy requires a factor the account lacks, setting up an authenticator app right here (MFA-08).
 * Both resolve the login prompt once, with the factors that truly passed (MFA-06).
 */
export function addSecondFactorRoutes(router: Router, deps: SecondFactorDeps, pages: InteractionPages): {
  showStage(ctx: Context, loaded: LoadedInteraction): Promise<boolean>;
} {
  const { load, page, verifyCsrf } = pages;

  router.post('/mfa', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parseForm(codeForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage } = loaded;
    if (stage.name !== 'mfa') throw wrongStage();
    const { outcome, recovery } = await verifySecondFactorCode(deps, stage.accountId, form.code);
    const factor = recovery ? 'recovery_code' : 'totp';
    if (outcome === 'accepted') {
      await deps.audit.record({ type: recovery ? 'recovery_code_used' : 'mfa_verify', accountId: stage.accountId, clientId: clientIdOf(loaded), details: { factor } }, ctx);
      if (recovery) await notify(ctx, stage.accountId, 'recovery');
      await finishLogin(ctx, provider, loaded, { accountId: stage.accountId, amr: [...stage.amr, 'otp', 'mfa'], acr: ACR.mfa, remember: stage.remember }, deps);
      return;
    }
    await countFailure(ctx, provider, loaded, stage, outcome === 'locked', factor);
    await renderMfa(ctx, loaded, stage, 'mfa.wrongCode');
  });

  router.post('/enrol', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    const form = parseForm(codeForm, ctx.request.body);
    verifyCsrf(loaded, form.csrf);
    const { stage } = loaded;
    if (stage.name !== 'enrol') throw wrongStage();
    if (await confirmTotpEnrolment(deps.totp, stage.accountId, form.code)) {
      await deps.audit.record({ type: 'mfa_enabled', accountId: stage.accountId, clientId: clientIdOf(loaded), details: { factor: 'totp', during: 'sign_in' } }, ctx);
      await notify(ctx, stage.accountId, 'on');
      const recoveryCodes = await generateRecoveryCodes(deps.recoveryCodes, stage.accountId);
      // The upstream identity this sign-in proves ownership for (issue 12) waits for the continue button too.
      const enrolled: Stage = { name: 'enrolled', accountId: stage.accountId, amr: stage.amr, remember: stage.remember, ...(stage.link ? { link: stage.link } : {}) };
      await provider.interactionResult(ctx.req, ctx.res, { gatehouse: enrolled }, { mergeWithLastSubmission: false });
      // Shown once, in this response only; reloading the page shows the continue button without them.
      const recoveryCodesFile = codesFile(deps.issuer, deps.totp.now(), recoveryCodes, localeOf(ctx));
      page(ctx, loaded, 'interaction/enrolled', { title: 'mfa.enrolled.title', recoveryCodes, recoveryCodesFile });
      return;
    }
    await countFailure(ctx, provider, loaded, stage, false, 'totp_enrolment');
    await renderEnrol(ctx, loaded, stage, 'mfa.wrongCode');
  });

  router.post('/continue', async (ctx) => {
    const provider = deps.provider();
    const loaded = await load(ctx, provider);
    verifyCsrf(loaded, parseForm(continueForm, ctx.request.body).csrf);
    const { stage } = loaded;
    if (stage.name !== 'enrolled') throw wrongStage();
    await finishLogin(ctx, provider, loaded, { accountId: stage.accountId, amr: [...stage.amr, 'otp', 'mfa'], acr: ACR.mfa, remember: stage.remember }, deps);
  });

  async function countFailure(ctx: Context, provider: Provider, loaded: LoadedInteraction, stage: CodeStage, locked: boolean, factor: string): Promise<void> {
    await countSecondFactorFailure(ctx, provider, loaded, stage, { factor, locked }, deps.audit);
    ctx.status = 400;
  }

  /** Changes to two-step verification are news to the owner: if it was not them, they must act (MFA-05, MFA-07). */
  async function notify(ctx: Context, accountId: string, change: 'on' | 'recovery'): Promise<void> {
    const account = await findAccountById(deps.db, accountId);
    if (!account) return;
    await deps.mail.queue(account.email, 'mfa-changed', localeOf(ctx), { change, resetUrl: `${deps.issuer}/forgot-password` });
  }

  /** The second step's page offers what the account has: a code field, passkey buttons, or both. */
  async function renderMfa(ctx: Context, loaded: LoadedInteraction, stage: Extract<Stage, { name: 'mfa' }>, error?: string): Promise<void> {
    page(ctx, loaded, 'interaction/mfa', { title: 'mfa.title', factors: await enrolledFactors(deps.db, stage.accountId), error });
  }

  async function renderEnrol(ctx: Context, loaded: LoadedInteraction, stage: Extract<Stage, { name: 'enrol' }>, error?: string): Promise<void> {
    const account = await findAccountById(deps.db, stage.accountId);
    const setup = account && (await pendingOrNewSetup(deps.totp, account, deps.issuer));
    if (!setup) throw wrongStage(); // the account vanished, or turned an authenticator on meanwhile
    page(ctx, loaded, 'interaction/enrol', { title: 'mfa.enrol.title', ...setup, error });
  }

  return {
    /** GET of an interaction in one of these stages. */
    async showStage(ctx, loaded) {
      const { stage } = loaded;
      if (stage.name === 'mfa') await renderMfa(ctx, loaded, stage);
      else if (stage.name === 'enrol') await renderEnrol(ctx, loaded, stage);
      else if (stage.name === 'enrolled') page(ctx, loaded, 'interaction/enrolled', { title: 'mfa.enrolled.title' });
      else return false;
      return true;
    },
  };
}

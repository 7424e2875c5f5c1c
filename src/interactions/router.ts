import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { authenticateWithPassword } from '../accounts/authenticate.ts';
import { BadRequestError } from '../errors.ts';
import type { Render } from '../http/render.ts';
import { noStore } from '../http/middleware/no-store.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import { finishInteraction, loadInteraction } from './context.ts';
import { describeScopes } from './scopes.ts';

export interface InteractionDeps {
  db: Db;
  hasher: PasswordHasher;
  render: Render;
  provider(): Provider;
}

/** Field names are a stable contract for password managers and scripts: `email`, `password`. */
const loginForm = z.object({ email: z.string().max(320).default(''), password: z.string().max(4096).default('') });
const consentForm = z.object({ decision: z.enum(['approve', 'deny']) });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw new BadRequestError('The form was not filled in as expected. Please try again.');
  return result.data;
}

/** Thin handlers for /interaction/:uid: each loads the interaction, calls one domain function, renders or redirects. */
export function interactionRouter(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.use(noStore);
  router.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb' }));

  router.get('/', async (ctx) => {
    const { interaction, stage, clientName } = await loadInteraction(ctx, deps.provider());
    if (stage.name === 'consent') {
      const account = await findAccountById(deps.db, stage.accountId);
      const details = interaction.prompt.details as { missingOIDCScope?: string[] };
      ctx.body = deps.render('interaction/consent', {
        title: 'Allow access',
        uid: interaction.uid,
        clientName,
        accountEmail: account?.email ?? '',
        scopes: describeScopes(details.missingOIDCScope ?? []),
      });
      return;
    }
    ctx.body = deps.render('interaction/login', { title: 'Sign in', uid: interaction.uid, clientName, email: '' });
  });

  router.post('/login', async (ctx) => {
    const provider = deps.provider();
    const { interaction, stage, clientName } = await loadInteraction(ctx, provider);
    if (stage.name !== 'login') throw wrongStage();
    const form = parse(loginForm, ctx.request.body);
    const result = await authenticateWithPassword(deps.db, deps.hasher, form.email, form.password);
    if (!result.ok) {
      ctx.status = 400;
      ctx.body = deps.render('interaction/login', {
        title: 'Sign in',
        uid: interaction.uid,
        clientName,
        email: form.email,
        error: 'Email or password is incorrect.',
      });
      return;
    }
    await finishInteraction(ctx, provider, { login: { accountId: result.account.id, amr: ['pwd'] } });
  });

  router.post('/consent', async (ctx) => {
    const provider = deps.provider();
    const { interaction, stage } = await loadInteraction(ctx, provider);
    if (stage.name !== 'consent') throw wrongStage();
    const form = parse(consentForm, ctx.request.body);
    if (form.decision === 'deny') {
      await finishInteraction(ctx, provider, { error: 'access_denied', error_description: 'The user denied access.' });
      return;
    }
    const grantId = await saveGrant(provider, interaction, stage.accountId);
    await finishInteraction(ctx, provider, { consent: { grantId } });
  });

  router.post('/abort', async (ctx) => {
    const provider = deps.provider();
    await loadInteraction(ctx, provider);
    await finishInteraction(ctx, provider, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  });

  return router;
}

function wrongStage(): BadRequestError {
  return new BadRequestError('This step of the sign-in is not available now. Go back and start again.', 'wrong_stage');
}

/** Adds exactly what the prompt reported missing to the existing grant (or a new one) and saves it. */
async function saveGrant(
  provider: Provider,
  interaction: Awaited<ReturnType<Provider['interactionDetails']>>,
  accountId: string,
): Promise<string> {
  const clientId = String(interaction.params.client_id);
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

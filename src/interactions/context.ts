import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors as oidcErrors } from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { InteractionExpiredError } from '../errors.ts';
import { currentStage, InvalidStageError, type Stage } from './state.ts';

/** What the pages show about the client, from its registered metadata. */
export interface ClientView {
  name: string;
  logoUri?: string | undefined;
  clientUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
}

export interface LoadedInteraction {
  interaction: Interaction;
  stage: Stage;
  client: ClientView;
  /** The client's registered metadata (policy flags such as `mfa_required`). */
  clientMetadata: Record<string, unknown> | undefined;
}

/**
 * Loads the interaction named in the URL and our stage within it.
 * @throws InteractionExpiredError when the interaction cookie is missing, the interaction expired, the
 *   URL names another interaction, or the saved stage does not validate (then it is destroyed).
 */
export async function loadInteraction(ctx: Context, provider: Provider): Promise<LoadedInteraction> {
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (error) {
    if (error instanceof oidcErrors.SessionNotFound) throw new InteractionExpiredError();
    throw error;
  }
  if (interaction.uid !== ctx.params.uid) throw new InteractionExpiredError();
  let stage: Stage;
  try {
    stage = currentStage({
      prompt: interaction.prompt,
      session: interaction.session,
      result: interaction.result as Record<string, unknown> | undefined,
    });
  } catch (error) {
    if (!(error instanceof InvalidStageError)) throw error;
    await interaction.destroy();
    throw new InteractionExpiredError();
  }
  const clientId = String(interaction.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  return {
    interaction,
    stage,
    clientMetadata: client?.metadata() as Record<string, unknown> | undefined,
    client: {
      name: client?.clientName ?? clientId,
      logoUri: client?.logoUri,
      clientUri: client?.clientUri,
      policyUri: client?.policyUri,
      tosUri: client?.tosUri,
    },
  };
}

/** Ends the current prompt and sends the browser back into the authorization flow (303, never a form re-POST). */
export async function finishInteraction(
  ctx: Context,
  provider: Provider,
  result: Parameters<Provider['interactionResult']>[2],
): Promise<void> {
  const location = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(location);
}

/**
 * Saves our stage inside the interaction without resolving the login prompt, and sends the browser back
 * to the interaction page (which renders that stage). oidc-provider still sees no login result, so its
 * resume endpoint issues nothing until the last factor has passed (MFA-06).
 */
export async function saveStage(ctx: Context, provider: Provider, stage: Stage): Promise<void> {
  await provider.interactionResult(ctx.req, ctx.res, { gatehouse: stage }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(`/interaction/${String(ctx.params.uid)}`);
}

import { z } from 'zod';

/**
 * The sign-in interaction as an explicit state machine (diagram: state.md beside this file).
 * oidc-provider decides *which prompt* is open (login or consent); within the login prompt we keep our
 * own typed stage in the interaction's `result.gatehouse`, validated every time it is loaded, so a
 * second factor (issue 6) slots in as the `mfa` stage without touching the handlers around it.
 */
export const AMR_VALUES = ['pwd', 'otp', 'hwk', 'swk', 'mfa'] as const;

const loginStage = z.object({ name: z.literal('login') });
const mfaStage = z.object({
  name: z.literal('mfa'),
  accountId: z.string().min(1),
  amr: z.array(z.enum(AMR_VALUES)).min(1),
  /** "Remember me" from the password step, applied once the factor passes. */
  remember: z.boolean().default(false),
  /** Wrong codes in this interaction; at MAX_MFA_FAILURES it is destroyed (MFA-04). */
  failures: z.number().int().min(0).default(0),
});

/** Wrong second-factor codes one sign-in may take before it must start over from the password. */
export const MAX_MFA_FAILURES = 5;
const consentStage = z.object({ name: z.literal('consent'), accountId: z.string().min(1) });

export const stageSchema = z.discriminatedUnion('name', [loginStage, mfaStage, consentStage]);
export type Stage = z.infer<typeof stageSchema>;
export type StageName = Stage['name'];

/** What an interaction looks like to us: oidc-provider's prompt plus our saved stage, if any. */
export interface InteractionView {
  prompt: { name: string };
  session?: { accountId?: string } | undefined;
  result?: Record<string, unknown> | undefined;
}

export class InvalidStageError extends Error {}

/**
 * The stage an interaction is in. A saved stage that fails validation is treated as tampering or a
 * version mismatch: the caller destroys the interaction rather than guessing.
 * @throws InvalidStageError
 */
export function currentStage(interaction: InteractionView): Stage {
  if (interaction.prompt.name === 'consent') {
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new InvalidStageError('consent prompt without a signed-in account');
    return { name: 'consent', accountId };
  }
  if (interaction.prompt.name !== 'login') throw new InvalidStageError(`unsupported prompt ${interaction.prompt.name}`);
  const saved = interaction.result?.gatehouse;
  if (saved === undefined) return { name: 'login' };
  const parsed = stageSchema.safeParse(saved);
  if (!parsed.success || parsed.data.name === 'consent') throw new InvalidStageError('saved stage is not valid');
  return parsed.data;
}

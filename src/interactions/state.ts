import { z } from 'zod';

/**
 * The sign-in interaction as an explicit state machine (diagram: state.md beside this file).
 * oidc-provider decides *which prompt* is open (login or consent); within the login prompt we keep our
 * own typed stage in the interaction's `result.gatehouse`, validated every time it is loaded, so a
 * second factor (issue 6) slots in as the `mfa` stage without touching the handlers around it.
 */
/** RFC 8176's values, plus `fed`: the first factor was an upstream provider's sign-in (issue 12). */
export const AMR_VALUES = ['pwd', 'otp', 'hwk', 'swk', 'mfa', 'fed'] as const;

/** Why an upstream sign-in came back to the sign-in page (shown as a plain message there). */
export const UPSTREAM_NOTICES = ['cancelled', 'failed', 'no_email', 'unverified_email', 'no_account', 'refused', 'unverified', 'unavailable'] as const;
export type UpstreamNotice = (typeof UPSTREAM_NOTICES)[number];

const loginStage = z.object({
  name: z.literal('login'),
  upstreamNotice: z.object({ reason: z.enum(UPSTREAM_NOTICES), provider: z.string() }).optional(),
});
/**
 * An upstream identity to link to the account once every factor has passed: the user came from an
 * upstream whose email an existing account has, and proved they own that account (issue 12).
 */
const pendingLink = z.object({ provider: z.string().min(1), subject: z.string().min(1), email: z.string().nullable() });
export type PendingLink = z.infer<typeof pendingLink>;
const mfaStage = z.object({
  name: z.literal('mfa'),
  accountId: z.string().min(1),
  amr: z.array(z.enum(AMR_VALUES)).min(1),
  /** "Remember me" from the password step, applied once the factor passes. */
  remember: z.boolean().default(false),
  /** Wrong codes in this interaction; at MAX_MFA_FAILURES it is destroyed (MFA-04). */
  failures: z.number().int().min(0).default(0),
  link: pendingLink.optional(),
});

/** Wrong second-factor codes one sign-in may take before it must start over from the password. */
export const MAX_MFA_FAILURES = 5;
/**
 * MFA is required (deployment or client policy) and the account has no second factor yet: it sets up an
 * authenticator app inside this sign-in before anything is issued (MFA-08). Same counters as `mfa`.
 */
const enrolStage = mfaStage.extend({ name: z.literal('enrol') });
/** The new authenticator is on and the recovery codes were shown once; only "continue" remains. */
const enrolledStage = mfaStage.omit({ failures: true }).extend({ name: z.literal('enrolled') });
const consentStage = z.object({ name: z.literal('consent'), accountId: z.string().min(1) });
/**
 * The upstream's callback validated its ID token and saved what it vouched for; the next load of the
 * interaction (in the browser holding its cookie) decides: sign in, create, or ask to prove ownership.
 */
const upstreamStage = z.object({
  name: z.literal('upstream'),
  provider: z.string().min(1),
  subject: z.string().min(1),
  email: z.string().optional(),
  emailVerified: z.boolean(),
  displayName: z.string().optional(),
});
/**
 * An account already has the upstream's address: nothing is signed in or linked until its password
 * (and second factor, when enrolled) is given here. The upstream's say-so is never enough.
 */
const linkStage = z.object({
  name: z.literal('link'),
  accountId: z.string().min(1),
  /** The account's address (the password's limits are keyed by it). */
  email: z.string().min(1),
  /** False: the account has no password to give (made by another provider): the page says how to link instead. */
  hasPassword: z.boolean().default(true),
  link: pendingLink,
});

export const stageSchema = z.discriminatedUnion('name', [loginStage, mfaStage, enrolStage, enrolledStage, consentStage, upstreamStage, linkStage]);
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

/** What the relying party asked about the authentication context (OIDC Core §3.1.2.1, §5.5.1.1). */
export interface AcrRequest {
  /** Values of an essential `acr` claim: the result must be one of them or the spec's error. */
  essential?: string[] | undefined;
}

/** Reads an essential acr claim from the request's `claims` parameter (a JSON string in the interaction's params). */
export function acrRequestOf(params: Record<string, unknown>): AcrRequest {
  if (typeof params.claims !== 'string') return {};
  let claims: unknown;
  try {
    claims = JSON.parse(params.claims);
  } catch {
    return {}; // oidc-provider already refused a malformed claims parameter before the interaction began
  }
  const acr = (claims as { id_token?: { acr?: { essential?: unknown; value?: unknown; values?: unknown } } } | null)?.id_token?.acr;
  if (acr?.essential !== true) return {};
  const values = Array.isArray(acr.values) ? acr.values.map(String) : typeof acr.value === 'string' ? [acr.value] : undefined;
  return values ? { essential: values } : {};
}

export type NextStep =
  | { step: 'mfa' }
  | { step: 'enrol' }
  | { step: 'finish' }
  /** The RP's essential acr cannot be met (unmet_authentication_requirements). */
  | { step: 'unmet' };

/**
 * What follows a correct first factor (or a step-up on a signed-in session). An enrolled factor is always
 * asked; policy makes an account without one enrol; otherwise the sign-in ends with what it has, unless
 * the RP made a stronger class essential.
 */
export function nextAfterFirstFactor(input: {
  hasSecondFactor: boolean;
  mfaRequired: boolean;
  acr: AcrRequest;
  acrWithoutFactor: string;
}): NextStep {
  if (input.hasSecondFactor) return { step: 'mfa' };
  if (input.mfaRequired) return { step: 'enrol' };
  if (input.acr.essential && !input.acr.essential.includes(input.acrWithoutFactor)) return { step: 'unmet' };
  return { step: 'finish' };
}

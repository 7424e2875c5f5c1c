import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';

/**
 * The browser's WebAuthn responses arrive as JSON text in a form field. They are shape-checked here
 * before @simplewebauthn/server sees them, so the library only ever gets the structure it is typed for;
 * every byte string is base64url, which the library decodes and verifies itself.
 */
const base64url = z.string().min(1).max(16_384).regex(/^[A-Za-z0-9_-]+$/);
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);

/** What both ceremonies' responses share: the credential's id and type. */
const credential = z.object({
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
});

const registrationSchema = credential.extend({
  response: z.object({
    clientDataJSON: base64url,
    attestationObject: base64url,
    transports: transports.optional(),
    authenticatorData: base64url.optional(),
    publicKey: base64url.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
  }),
});

const authenticationSchema = credential.extend({
  response: z.object({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: the caller treats it like any other malformed response
  }
}

export function parseRegistrationResponse(text: string): RegistrationResponseJSON | undefined {
  const parsed = registrationSchema.safeParse(parseJson(text));
  return parsed.success ? (parsed.data as RegistrationResponseJSON) : undefined;
}

export function parseAuthenticationResponse(text: string): AuthenticationResponseJSON | undefined {
  const parsed = authenticationSchema.safeParse(parseJson(text));
  return parsed.success ? (parsed.data as AuthenticationResponseJSON) : undefined;
}

const clientData = z.object({ challenge: base64url });

/** The challenge inside a response's clientDataJSON (base64url of JSON), or undefined when unreadable. */
export function clientDataChallenge(clientDataJSON: string): string | undefined {
  const parsed = clientData.safeParse(parseJson(Buffer.from(clientDataJSON, 'base64url').toString('utf8')));
  return parsed.success ? parsed.data.challenge : undefined;
}

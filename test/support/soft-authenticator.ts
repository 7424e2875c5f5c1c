import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A WebAuthn authenticator in software for browser-less tests: a real P-256 key pair, real CBOR
 * attestation ('none') and real ECDSA assertions, so the server's verification runs unchanged. Each
 * option flips what a real authenticator would report, for tests of the rules that depend on it.
 */
export interface SoftAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON (the issuer's origin unless a test lies). */
  origin: string;
  /** A synced (multi-device, backed-up) passkey rather than one bound to this device. */
  synced?: boolean;
  /** Whether the user is verified (PIN, biometric) on each use. */
  userVerified?: boolean;
  /** Signature counter step per use; 0 for authenticators that do not count (as synced ones do). */
  counterStep?: number;
}

type Json = Record<string, unknown>;

const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export class SoftAuthenticator {
  readonly credentialId = randomBytes(16);
  counter = 0;
  /** The user handle the RP gave at registration (returned by discoverable assertions). */
  userHandle: string | undefined;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  readonly options: SoftAuthenticatorOptions;

  constructor(options: SoftAuthenticatorOptions) {
    this.options = options;
    ({ privateKey: this.privateKey, publicKey: this.publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  }

  get id(): string {
    return b64u(this.credentialId);
  }

  private flags(extra: number): number {
    const backup = this.options.synced ? FLAG_BE | FLAG_BS : 0;
    return FLAG_UP | (this.options.userVerified === false ? 0 : FLAG_UV) | backup | extra;
  }

  private authenticatorData(rpId: string, flags: number, attested?: Uint8Array): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private cosePublicKey(): Uint8Array {
    const jwk = this.publicKey.export({ format: 'jwk' });
    const key = new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]);
    return isoCBOR.encode(key);
  }

  private clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.options.origin, crossOrigin: false }));
  }

  /** The browser's RegistrationResponseJSON for creation options from the server. */
  register(creation: { challenge: string; rp: { id?: string }; user: { id: string } }): Json {
    this.userHandle = creation.user.id;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, this.cosePublicKey()]);
    const authData = this.authenticatorData(creation.rp.id!, this.flags(FLAG_AT), attested);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: b64u(this.clientData('webauthn.create', creation.challenge)), attestationObject: b64u(attestationObject), transports: ['internal'] },
    };
  }

  /** The browser's AuthenticationResponseJSON for request options (the counter moves on first). */
  assert(request: { challenge: string; rpId?: string }): Json {
    this.counter += this.options.counterStep ?? 1;
    const authData = this.authenticatorData(request.rpId!, this.flags(0));
    const clientDataJSON = this.clientData('webauthn.get', request.challenge);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
    };
  }
}

import { describe, expect, it } from '@jest/globals';
import { buildClientMetadata, InvalidClientError } from '../../src/admin/clients.ts';

const base = { id: 'app', redirectUris: ['https://app.example/cb'] };

function problems(input: Parameters<typeof buildClientMetadata>[0]): readonly string[] {
  try {
    buildClientMetadata(input);
  } catch (error) {
    if (error instanceof InvalidClientError) return error.problems;
    throw error;
  }
  return [];
}

describe('client metadata for the consent page and logout', () => {
  it('stores first_party only when asked', () => {
    expect(buildClientMetadata(base).first_party).toBeUndefined();
    expect(buildClientMetadata({ ...base, firstParty: true }).first_party).toBe(true);
  });

  it('keeps https logo and links, and refuses http off loopback and other schemes', () => {
    const metadata = buildClientMetadata({ ...base, logoUri: 'https://app.example/logo.png', policyUri: 'https://app.example/privacy', tosUri: 'https://app.example/tos', clientUri: 'https://app.example' });
    expect(metadata).toMatchObject({ logo_uri: 'https://app.example/logo.png', policy_uri: 'https://app.example/privacy', tos_uri: 'https://app.example/tos', client_uri: 'https://app.example' });
    expect(problems({ ...base, logoUri: 'http://cdn.example/logo.png', tosUri: 'javascript:alert(1)' })).toEqual([
      expect.stringMatching(/^logo URI .*http is allowed only on loopback/),
      expect.stringMatching(/^terms of service URI .*must be an https URL/),
    ]);
  });

  it('accepts an https back-channel logout URI and refuses a fragment or a custom scheme', () => {
    expect(buildClientMetadata({ ...base, backchannelLogoutUri: 'https://app.example/logout' })).toMatchObject({
      backchannel_logout_uri: 'https://app.example/logout',
      backchannel_logout_session_required: true,
    });
    expect(problems({ ...base, backchannelLogoutUri: 'https://app.example/logout#x' })).toEqual([expect.stringMatching(/fragment/)]);
    expect(problems({ ...base, backchannelLogoutUri: 'com.example.app:/logout' }).length).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from '@jest/globals';
import { acrRequestOf, currentStage, InvalidStageError, nextAfterFirstFactor } from '../../src/interactions/state.ts';

describe('interaction stages', () => {
  it('starts a login prompt at the login stage', () => {
    expect(currentStage({ prompt: { name: 'login' } })).toEqual({ name: 'login' });
  });

  it('resumes a saved mfa stage after validating it', () => {
    const saved = { name: 'mfa', accountId: 'acc-1', amr: ['pwd'], remember: true, failures: 2 };
    expect(currentStage({ prompt: { name: 'login' }, result: { gatehouse: saved } })).toEqual(saved);
    // Older saved stages without the counters get their defaults.
    expect(currentStage({ prompt: { name: 'login' }, result: { gatehouse: { name: 'mfa', accountId: 'a', amr: ['pwd'] } } })).toMatchObject({ remember: false, failures: 0 });
  });

  it('refuses a saved stage that does not validate (tampered or from another version)', () => {
    for (const saved of [{ name: 'mfa', accountId: '', amr: ['pwd'] }, { name: 'mfa', accountId: 'a', amr: ['magic'] }, { name: 'done' }, 'login']) {
      expect(() => currentStage({ prompt: { name: 'login' }, result: { gatehouse: saved } })).toThrow(InvalidStageError);
    }
  });

  it('cannot reach consent by a saved stage: consent needs oidc-provider to have signed the account in', () => {
    expect(() => currentStage({ prompt: { name: 'login' }, result: { gatehouse: { name: 'consent', accountId: 'a' } } })).toThrow(InvalidStageError);
    expect(() => currentStage({ prompt: { name: 'consent' } })).toThrow(InvalidStageError);
    expect(currentStage({ prompt: { name: 'consent' }, session: { accountId: 'acc-1' } })).toEqual({ name: 'consent', accountId: 'acc-1' });
  });

  it('refuses prompts it does not implement', () => {
    expect(() => currentStage({ prompt: { name: 'select_account' } })).toThrow(InvalidStageError);
  });

  it('reads an essential acr from the claims parameter, and nothing else', () => {
    const claims = (acr: unknown) => JSON.stringify({ id_token: { acr } });
    expect(acrRequestOf({ claims: claims({ essential: true, values: ['a', 'b'] }) })).toEqual({ essential: ['a', 'b'] });
    expect(acrRequestOf({ claims: claims({ essential: true, value: 'a' }) })).toEqual({ essential: ['a'] });
    expect(acrRequestOf({ claims: claims({ values: ['a'] }) })).toEqual({}); // voluntary
    expect(acrRequestOf({ claims: claims({ essential: 'true', value: 'a' }) })).toEqual({});
    expect(acrRequestOf({ claims: 'not json' })).toEqual({});
    expect(acrRequestOf({})).toEqual({});
  });

  it('after the first factor: an enrolled factor is always asked; policy enrols; an essential acr it cannot meet is refused', () => {
    const base = { hasSecondFactor: false, mfaRequired: false, acr: {}, acrWithoutFactor: 'pwd' };
    expect(nextAfterFirstFactor(base)).toEqual({ step: 'finish' });
    expect(nextAfterFirstFactor({ ...base, hasSecondFactor: true })).toEqual({ step: 'mfa' });
    expect(nextAfterFirstFactor({ ...base, hasSecondFactor: true, mfaRequired: true })).toEqual({ step: 'mfa' });
    expect(nextAfterFirstFactor({ ...base, mfaRequired: true, acr: { essential: ['mfa'] } })).toEqual({ step: 'enrol' });
    expect(nextAfterFirstFactor({ ...base, acr: { essential: ['mfa'] } })).toEqual({ step: 'unmet' });
    expect(nextAfterFirstFactor({ ...base, acr: { essential: ['pwd', 'mfa'] } })).toEqual({ step: 'finish' });
  });

  it('validates the enrolment stages like the others', () => {
    const enrol = { name: 'enrol', accountId: 'a', amr: ['pwd'], remember: false, failures: 1 };
    expect(currentStage({ prompt: { name: 'login' }, result: { gatehouse: enrol } })).toEqual(enrol);
    const enrolled = { name: 'enrolled', accountId: 'a', amr: ['pwd'], remember: true };
    expect(currentStage({ prompt: { name: 'login' }, result: { gatehouse: enrolled } })).toEqual(enrolled);
    expect(() => currentStage({ prompt: { name: 'login' }, result: { gatehouse: { ...enrolled, amr: [] } } })).toThrow(InvalidStageError);
  });
});

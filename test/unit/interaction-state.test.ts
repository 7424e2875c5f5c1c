import { describe, expect, it } from '@jest/globals';
import { currentStage, InvalidStageError } from '../../src/interactions/state.ts';

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
});

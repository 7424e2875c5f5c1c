import type { Context } from 'koa';
import { problemsByField, type PageContent } from '../http/form-pages.ts';
import { localeOf } from '../http/middleware/locale.ts';
import { cspNonce } from '../http/middleware/security-headers.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';
import { passkeyList } from './passkeys.ts';
import { isTwoStepOn } from './two-step.ts';

/**
 * The model of /account/security (views/account-settings/security.pug and the passkeys.pug it
 * includes), shared by every router whose forms live on that page, so an error re-render from any of
 * them shows the same page with the problem on its field. `nonce` lets the page load the passkey scripts.
 */
export async function securityPageModel(deps: AccountSettingsDeps, ctx: Context, account: AccountRow, problems: SettingsProblem[] = []): Promise<PageContent> {
  return {
    title: 'settings.security.title',
    twoStepOn: await isTwoStepOn(deps, account.id),
    passkeys: await passkeyList(deps, account.id, localeOf(ctx)),
    problems: problemsByField(problems),
    nonce: cspNonce(ctx),
  };
}

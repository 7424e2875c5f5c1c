import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { cleanText } from '../audit/details.ts';
import { localeOf } from '../http/middleware/locale.ts';
import type { MailQueue } from '../recovery/ports.ts';
import { findAccountById } from '../storage/postgres/accounts.queries.ts';
import type { Db } from '../storage/postgres/db.ts';
import { rememberDevice } from '../storage/postgres/known-devices.queries.ts';

/** Browsers keep a cookie at most 400 days (RFC 6265bis); each sign-in renews it. */
const DEVICE_COOKIE_MAX_AGE_MS = 400 * 24 * 3600 * 1000;
const DEVICE_ID = /^[A-Za-z0-9_-]{43}$/;
const USER_AGENT_MAX = 160;

export interface KnownDevicesDeps {
  db: Db;
  mail: MailQueue;
  issuer: string;
  now(): Date;
  /** NEW_DEVICE_ALERTS: mail the owner when an account signs in from a browser it has not used before. */
  enabled: boolean;
}

/**
 * After a finished sign-in (issue 7): recognise this browser by a long-lived random cookie, or mail the
 * owner that their account was signed in from a new one, with when, from which address and which
 * browser, so a sign-in they did not make is noticed. The account's very first browser is not news.
 * The cookie is random and signed like our others (a forged one counts as a new browser); it proves
 * nothing and unlocks nothing, it only lets us stay quiet about browsers the owner has used; only its
 * hash is stored.
 */
export async function noteSignInDevice(deps: KnownDevicesDeps, ctx: Context, accountId: string): Promise<void> {
  if (!deps.enabled) return;
  const https = deps.issuer.startsWith('https:');
  const name = https ? '__Host-gh_device' : 'gh_device';
  const presented = ctx.cookies.get(name, { signed: true });
  const deviceId = presented && DEVICE_ID.test(presented) ? presented : randomBytes(32).toString('base64url');
  ctx.cookies.set(name, deviceId, { signed: true, httpOnly: true, sameSite: 'lax', secure: https, path: '/', maxAge: DEVICE_COOKIE_MAX_AGE_MS, overwrite: true });
  const now = deps.now();
  const { isNew, hadOthers } = await rememberDevice(deps.db, accountId, createHash('sha256').update(deviceId).digest('hex'), now);
  if (!isNew || !hadOthers) return;
  const account = await findAccountById(deps.db, accountId);
  if (!account) return;
  await deps.mail.queue(account.email, 'new-device', localeOf(ctx), {
    when: `${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    ip: ctx.ip || 'unknown',
    browser: cleanText(ctx.get('user-agent') || 'unknown', USER_AGENT_MAX),
    resetUrl: `${deps.issuer}/forgot-password`,
  });
}

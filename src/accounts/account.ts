import type { AccountRow } from '../storage/postgres/database.ts';

/** The domain's view of an account; never carries the password hash past accounts/. */
export interface Account {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  disabled: boolean;
  createdAt: Date;
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    disabled: row.disabled_at !== null,
    createdAt: new Date(row.created_at),
  };
}

/** Normalises what a person typed: surrounding spaces are never part of an address. */
export function normalizeEmail(email: string): string {
  return email.trim();
}

/** A deliberately loose check (a local part, one @, a dotted domain): the verification mail is the real test. */
export function isPlausibleEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);
}

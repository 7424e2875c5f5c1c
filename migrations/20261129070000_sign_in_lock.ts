import { sql, type Kysely } from 'kysely';

/**
 * The password's consecutive-failure state per account (issue 7, ABU-01), in the database so that a new
 * session, a restart or another instance never resets it:
 * - failed_sign_ins: password attempts since the last success, counted before the argon2 verify (so
 *   concurrent guesses cannot slip past the delay) and reset to 0 by a correct password;
 * - sign_in_delay_until: no attempt at this account is admitted before this time (the growing delay from
 *   the 5th consecutive failure);
 * - locked_at: set at the 100th consecutive failure; the password then fails like a wrong one until a
 *   password reset or `gatehouse user unlock` clears it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('accounts')
    .addColumn('failed_sign_ins', 'integer', (col) => col.notNull().defaultTo(0).check(sql`failed_sign_ins >= 0`))
    .addColumn('sign_in_delay_until', 'timestamptz')
    .addColumn('locked_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('failed_sign_ins').dropColumn('sign_in_delay_until').dropColumn('locked_at').execute();
}

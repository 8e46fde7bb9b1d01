// Per-account brute-force protection, on top of the per-IP limits. Every statement is one
// atomic UPDATE on the user's row, so parallel guesses serialise on the row lock and cannot
// slip past the counter.
import { sql } from 'kysely';
import { preparedStatement, USERS_COLUMNS } from '../../db/prepared.js';
import type { UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import type { Write } from '../../db/together.js';

/** Consecutive failures that lock the account. */
export const MAX_FAILED_LOGINS = 10;
const FIRST_LOCK_SECONDS = 60;
const MAX_LOCK_SECONDS = 15 * 60;

// The UPDATE re-checks its conditions on the locked row, so concurrent guesses count one by one.
// $1 lower-cased email, $2 now, $3 MAX_FAILED_LOGINS. Every login runs it: prepared.
const findAndReserve = preparedStatement<UserRow & { may_try: boolean }>('find_user_and_reserve_attempt', `
  WITH found AS (SELECT ${USERS_COLUMNS} FROM users WHERE lower(email) = $1),
  reserved AS (
    UPDATE users SET failed_login_count = users.failed_login_count + 1
      FROM found
     WHERE users.id = found.id
       AND found.password_hash IS NOT NULL
       AND (users.locked_until IS NULL OR users.locked_until <= $2)
       AND users.failed_login_count < $3
    RETURNING users.id
  )
  SELECT found.*, EXISTS (SELECT 1 FROM reserved) AS may_try FROM found`);

/**
 * Finds the user by email and, in the same statement, takes one of the account's guesses
 * before the password is checked. `mayTry` is false while the account is locked or its
 * guesses are all in flight (the password must not be tried), and for a user without one.
 */
export async function findUserAndReserveAttempt(
  db: Executor,
  email: string,
  now: Date,
): Promise<{ user: UserRow | undefined; mayTry: boolean }> {
  const [row] = await findAndReserve(db, [email.toLowerCase(), now, MAX_FAILED_LOGINS]);
  if (!row) return { user: undefined, mayTry: false };
  const { may_try: mayTry, ...user } = row;
  return { user: user as UserRow, mayTry };
}

export interface ReserveGuess {
  userId: string;
  now: Date;
  /** False for a second-factor code: a user without a password (OAuth, passkeys) has codes too. */
  passwordRequired?: boolean;
}

/**
 * Takes one of the account's guesses before a password is checked outside login (an email or
 * password change by a signed-in user): a stolen access token must not give unlimited tries.
 * The same atomic conditions as the login's reservation. False: locked, or out of guesses.
 */
export async function reserveGuess(db: Executor, { userId, now, passwordRequired = true }: ReserveGuess): Promise<boolean> {
  const result = await sql<{ id: string }>`
    UPDATE users SET failed_login_count = failed_login_count + 1
     WHERE id = ${userId}
       ${passwordRequired ? sql`AND password_hash IS NOT NULL` : sql``}
       AND (locked_until IS NULL OR locked_until <= ${now}::timestamptz)
       AND failed_login_count < ${MAX_FAILED_LOGINS}
    RETURNING id
  `.execute(db);
  return result.rows.length === 1;
}

/**
 * A guess that was reserved but did not turn out wrong (a right password whose sign-in still
 * waits for the second factor, or a check that failed for another reason) is given back: only
 * wrong guesses may use up the count, so a right password never locks an account.
 */
export async function releaseGuess(db: Executor, userId: string): Promise<void> {
  await sql`UPDATE users SET failed_login_count = greatest(failed_login_count - 1, 0) WHERE id = ${userId}`.execute(db);
}

/** A right password outside login: the guesses it used start afresh (as a login does). */
export async function clearFailedGuesses(db: Executor, userId: string): Promise<void> {
  await db.updateTable('users').set(LOCKOUT_CLEARED).where('id', '=', userId).execute();
}

/** After a failed guess: locks the account once the guesses are used up. Returns the lock end, if it locked. */
export async function lockIfExhausted(db: Executor, userId: string, now: Date): Promise<Date | null> {
  // 1 minute, doubling with each lock since the last success, at most 15 minutes.
  const result = await sql<{ locked_until: Date }>`
    UPDATE users
       SET locked_until = ${now}::timestamptz
             + make_interval(secs => least(${MAX_LOCK_SECONDS}, ${FIRST_LOCK_SECONDS} * power(2, least(lockout_count, 10)))),
           lockout_count = lockout_count + 1,
           failed_login_count = 0
     WHERE id = ${userId} AND failed_login_count >= ${MAX_FAILED_LOGINS}
    RETURNING locked_until
  `.execute(db);
  return result.rows[0]?.locked_until ?? null;
}

// Every completed sign-in runs it, in the sign-in's one statement (auth/sign-in.ts).
// $1 now, $2 a new password hash (NULL: keep), $3 the user.
const SIGNED_IN = `
  UPDATE users SET last_login = $1, updated_at = $1, failed_login_count = 0, lockout_count = 0, locked_until = NULL,
                   password_hash = COALESCE($2::text, password_hash)
   WHERE id = $3`;

/** A completed sign-in: when, a rehashed password if any, and the guess count starts afresh
 *  (LOCKOUT_CLEARED). A Write, sent with the rest of the sign-in (db/together.ts). */
export function recordSignInWrite(signIn: SignInRecord): Write {
  return { sql: SIGNED_IN, parameters: signInParameters(signIn) };
}

export interface SignInRecord {
  userId: string;
  now: Date;
  rehashedPassword?: string;
}

const signInParameters = (signIn: SignInRecord): unknown[] => [signIn.now, signIn.rehashedPassword ?? null, signIn.userId];

/** The columns a successful login or a new password resets: the count starts afresh. */
export const LOCKOUT_CLEARED = { failed_login_count: 0, lockout_count: 0, locked_until: null } as const;

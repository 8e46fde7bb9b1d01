import { sql } from 'kysely';
// The only place that reads and writes oauth_states and oauth_identities.
import type { UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule } from '../retention/retention-rules.js';

/** Authorization states: single use (db/single-use.repo.ts). */
export const oauthStates = singleUse('oauth_states', { key: 'state_hash' });

export interface NewOAuthState {
  stateHash: string;
  provider: string;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
  expiresAt: Date;
}

export async function insertOAuthState(db: Executor, state: NewOAuthState): Promise<void> {
  await db
    .insertInto('oauth_states')
    .values({
      state_hash: state.stateHash,
      provider: state.provider,
      code_verifier: state.codeVerifier,
      nonce: state.nonce,
      redirect_uri: state.redirectUri,
      expires_at: state.expiresAt,
    })
    .execute();
}

/** Expired states are useless; dropping them keeps the table as small as the traffic of ten minutes. */
export async function deleteExpiredOAuthStates(db: Executor, now: Date): Promise<void> {
  await db.deleteFrom('oauth_states').where('expires_at', '<=', now).execute();
}

export interface ConsumedOAuthState {
  code_verifier: string;
  nonce: string;
  redirect_uri: string;
}

/**
 * Spends a state, once: of two callbacks presenting it at once, the second finds nothing. A
 * state only answers for the provider and redirect_uri it was issued for.
 */
export async function consumeOAuthState(
  db: Executor,
  where: { stateHash: string; provider: string; redirectUri: string; now: Date },
): Promise<ConsumedOAuthState | undefined> {
  return oauthStates.spend(db, {
    match: { state_hash: where.stateHash, provider: where.provider, redirect_uri: where.redirectUri },
    now: where.now,
    returning: ['code_verifier', 'nonce', 'redirect_uri'],
  });
}

/** The user an identity is linked to, row-locked so a concurrent deactivation or link waits. */
export async function findUserByIdentity(db: Executor, provider: string, subject: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('oauth_identities')
    .innerJoin('users', 'users.id', 'oauth_identities.user_id')
    .selectAll('users')
    .where('oauth_identities.provider', '=', provider)
    .where('oauth_identities.subject', '=', subject)
    .forUpdate('users')
    .executeTakeFirst();
}

/** Every identity linked to the user goes (an account reclaim); the providers they were of. */
export async function deleteIdentitiesOfUser(db: Executor, userId: string): Promise<string[]> {
  const rows = await db.deleteFrom('oauth_identities').where('user_id', '=', userId).returning('provider').execute();
  return rows.map((row) => row.provider).sort();
}

export async function insertOAuthIdentity(
  db: Executor,
  identity: { userId: string; provider: string; subject: string; email: string | null; now: Date },
): Promise<void> {
  await db
    .insertInto('oauth_identities')
    .values({
      user_id: identity.userId,
      provider: identity.provider,
      subject: identity.subject,
      email: identity.email,
      created_at: identity.now,
    })
    .execute();
}

/** Many identities in one multi-row statement (an import batch). */
export async function insertOAuthIdentities(
  db: Executor,
  identities: Array<{ userId: string; provider: string; subject: string; email: string | null; now: Date }>,
): Promise<void> {
  if (identities.length === 0) return;
  // One array per column through unnest(): a few parameters, not a few per row (bench/import.ts).
  await sql`
    INSERT INTO oauth_identities (user_id, provider, subject, email, created_at)
    SELECT * FROM unnest(${identities.map((i) => i.userId)}::uuid[], ${identities.map((i) => i.provider)}::text[],
                         ${identities.map((i) => i.subject)}::text[], ${identities.map((i) => i.email)}::text[],
                         ${identities.map((i) => i.now)}::timestamptz[])`.execute(db);
}

/** The user's linked identities (the data export). */
export async function listIdentities(db: Executor, userId: string): Promise<Array<{ provider: string; subject: string; email: string | null; created_at: Date }>> {
  return db
    .selectFrom('oauth_identities')
    .select(['provider', 'subject', 'email', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

/** Retention (modules/retention): authorization states used or expired over a day ago. */
export const oauthStateRetention = spentRowsRule(oauthStates);

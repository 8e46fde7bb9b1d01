// The only SQL on oidc_models (migrations/0015): oidc-provider's storage, one row per model
// instance, plus the links Keyhold keeps beside it (which Keyhold session a provider session
// stands for, which apps a user has consented to). Written for PostgreSQL and PGlite alike.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { Selectable } from 'kysely';
import { preparedStatement } from '../../db/prepared.js';
import { SPENT_ROW_DAYS, tableRule } from '../retention/retention-rules.js';
import { addDays } from '../../lib/clock.js';

/**
 * Codes (authorization, device, refresh under rotation) are consumed once, by the one
 * conditional statement of db/single-use.repo.ts (the lock: of two requests racing with one
 * code, the second matches nothing), here prepared (`consume` below: one on every code exchange
 * and refresh). consumed_at is the mark, kept on the row because the provider reads it (a
 * consumed code presented again revokes its grant). Their purge is by expiry (purgeExpiredModels).
 */

export type OidcModelRow = Selectable<Database['oidc_models']>;

export interface UpsertModel {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  expiresAt: Date | null;
  grantId?: string | null;
  uid?: string | null;
  userCode?: string | null;
  userId?: string | null;
  sessionId?: string | null;
}

// The provider saves, finds and removes a row several times per request it serves (codes,
// tokens, grants, sessions, interactions): prepared statements (db/prepared.ts).
const upsert = preparedStatement('oidc_model_upsert', `
  INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, user_id, session_id, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (model, id) DO UPDATE
     SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
         -- A Session saved again by the provider keeps the Keyhold links it was given.
         user_id = COALESCE(excluded.user_id, oidc_models.user_id),
         session_id = COALESCE(excluded.session_id, oidc_models.session_id),
         expires_at = excluded.expires_at`);

type FoundModel = Pick<OidcModelRow, 'payload' | 'consumed_at'>;
/** A live row of model $1 whose `column` is $2 ($3: now). */
const findBy = (column: 'id' | 'uid' | 'user_code') =>
  preparedStatement<FoundModel>(`oidc_model_by_${column}`, `
    SELECT payload, consumed_at FROM oidc_models WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > $3)`);
const findById = findBy('id');
const findByUid = findBy('uid');
const findByUserCode = findBy('user_code');
const consume = preparedStatement<{ id: string }>('oidc_model_consume', `
  UPDATE oidc_models SET consumed_at = $3
   WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
  RETURNING id`);
const destroy = preparedStatement('oidc_model_destroy', 'DELETE FROM oidc_models WHERE model = $1 AND id = $2');

const upsertParameters = (row: UpsertModel): unknown[] => [
  row.model, row.id, JSON.stringify(row.payload), row.grantId ?? null, row.uid ?? null, row.userCode ?? null,
  row.userId ?? null, row.sessionId ?? null, row.expiresAt,
];

export async function upsertModel(db: Executor, row: UpsertModel): Promise<void> {
  await upsert(db, upsertParameters(row));
}

// A code or refresh token consumed and the tokens it buys saved, in one statement (write-behind.ts):
// the rows are written only if this statement spent the code ($1 model, $2 id, $3 now), so of two
// requests racing with one code only one saves anything. One statement per number of rows saved.
const consumeAndSaveText = (rows: number): string => {
  const values = Array.from({ length: rows }, (_, i) => {
    const p = (n: number) => `$${4 + i * 9 + n}`;
    return `(${p(0)}::text, ${p(1)}::text, ${p(2)}::jsonb, ${p(3)}::text, ${p(4)}::text, ${p(5)}::text, ${p(6)}::uuid, ${p(7)}::uuid, ${p(8)}::timestamptz)`;
  });
  return `
  WITH spent AS (
    UPDATE oidc_models SET consumed_at = $3
     WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
    RETURNING id
  ), saved AS (
    INSERT INTO oidc_models (model, id, payload, grant_id, uid, user_code, user_id, session_id, expires_at)
    SELECT v.* FROM (VALUES ${values.join(', ')}) v (model, id, payload, grant_id, uid, user_code, user_id, session_id, expires_at)
     WHERE EXISTS (SELECT 1 FROM spent)
    ON CONFLICT (model, id) DO UPDATE
       SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
           user_id = COALESCE(excluded.user_id, oidc_models.user_id),
           session_id = COALESCE(excluded.session_id, oidc_models.session_id),
           expires_at = excluded.expires_at
  )
  SELECT count(*)::int AS spent FROM spent`;
};
const consumeAndSave = [
  preparedStatement<{ spent: number }>('oidc_model_consume_and_save_one', consumeAndSaveText(1)),
  preparedStatement<{ spent: number }>('oidc_model_consume_and_save_two', consumeAndSaveText(2)),
];

/** Consumes `spend` and, only if that spent it, saves `rows` (one or two); returns whether it was spent. */
export async function consumeAndUpsertModels(db: Executor, spend: { model: string; id: string; now: Date }, rows: readonly UpsertModel[]): Promise<boolean> {
  const statement = consumeAndSave[rows.length - 1];
  if (!statement) throw new Error(`consumeAndUpsertModels saves one or two rows, not ${rows.length}`);
  const [result] = await statement(db, [spend.model, spend.id, spend.now, ...rows.flatMap(upsertParameters)]);
  return result!.spent > 0;
}

/** A live row (not expired) by one of its look-up columns. */
export async function findModel(
  db: Executor,
  { model, by, now }: { model: string; by: { id: string } | { uid: string } | { userCode: string }; now: Date },
): Promise<FoundModel | undefined> {
  const [row] =
    'id' in by ? await findById(db, [model, by.id, now]) : 'uid' in by ? await findByUid(db, [model, by.uid, now]) : await findByUserCode(db, [model, by.userCode, now]);
  return row;
}

/** Marks a row used; returns whether it was live and unused (a code is consumed once). */
export async function consumeModel(db: Executor, { model, id, now }: { model: string; id: string; now: Date }): Promise<boolean> {
  return (await consume(db, [model, id, now])).length > 0;
}

export async function destroyModel(db: Executor, model: string, id: string): Promise<void> {
  await destroy(db, [model, id]);
}

/** Every row of a grant (codes, tokens, the grant itself), in one statement. */
export async function revokeGrantRows(db: Executor, grantId: string): Promise<number> {
  const result = await db.deleteFrom('oidc_models').where('grant_id', '=', grantId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The grants given to a client (it is being removed). */
export async function grantIdsOfClient(db: Executor, clientId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`SELECT id FROM oidc_models WHERE model = 'Grant' AND payload->>'clientId' = ${clientId}`.execute(db);
  return rows.rows.map((row) => row.id);
}

/** The grants a user gave a client. */
export async function grantIdsOfUserAndClient(db: Executor, userId: string, clientId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    SELECT id FROM oidc_models WHERE model = 'Grant' AND user_id = ${userId} AND payload->>'clientId' = ${clientId}`.execute(db);
  return rows.rows.map((row) => row.id);
}

/** Links a provider Session to the Keyhold session and user it stands for. */
export async function linkProviderSession(db: Executor, providerSessionId: string, link: { userId: string; sessionId: string }): Promise<void> {
  await db
    .updateTable('oidc_models')
    .set({ user_id: link.userId, session_id: link.sessionId })
    .where('model', '=', 'Session')
    .where('id', '=', providerSessionId)
    .execute();
}

/** Moves the provider sessions of one Keyhold session of `userId` to another (a browser that signed in again). */
export async function relinkProviderSessions(db: Executor, link: { userId: string; from: string; to: string }): Promise<void> {
  await db
    .updateTable('oidc_models')
    .set({ session_id: link.to })
    .where('model', '=', 'Session')
    .where('session_id', '=', link.from)
    .where('user_id', '=', link.userId)
    .execute();
}

/** The Keyhold session (and its user) a provider session was linked to, if any. */
export async function findProviderSessionLink(db: Executor, providerSessionId: string): Promise<{ userId: string; sessionId: string } | undefined> {
  const row = await db
    .selectFrom('oidc_models')
    .select(['user_id', 'session_id'])
    .where('model', '=', 'Session')
    .where('id', '=', providerSessionId)
    .executeTakeFirst();
  return row?.user_id && row.session_id ? { userId: row.user_id, sessionId: row.session_id } : undefined;
}

/** Retention: rows expired over a day ago, in one bounded batch. */
export async function purgeExpiredModels(db: Executor, before: Date, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM oidc_models
     WHERE (model, id) IN (SELECT model, id FROM oidc_models WHERE expires_at < ${before} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export async function countExpiredModels(db: Executor, before: Date): Promise<number> {
  const row = await db.selectFrom('oidc_models').select((eb) => eb.fn.countAll<number>().as('n')).where('expires_at', '<', before).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The provider sessions a set of ending Keyhold sessions stood for (their payloads name the apps signed in). */
export async function providerSessionsOf(db: Executor, sessionIds: readonly string[]): Promise<Array<{ id: string; payload: Record<string, unknown> }>> {
  if (sessionIds.length === 0) return [];
  return db.selectFrom('oidc_models').select(['id', 'payload']).where('model', '=', 'Session').where('session_id', 'in', [...sessionIds]).execute();
}

export async function deleteProviderSessions(db: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('oidc_models').where('model', '=', 'Session').where('id', 'in', [...ids]).execute();
}

// --- A user's apps (consent remembered per user, client and scope set) ----------------------

export interface UserAppRow {
  clientId: string;
  scopes: string[];
  grantedAt: string;
  lastUsedAt: string;
  grantIds: string[];
}

const userAppId = (userId: string, clientId: string) => `${userId}:${clientId}`;

export async function findUserApp(db: Executor, userId: string, clientId: string): Promise<UserAppRow | undefined> {
  const row = await db.selectFrom('oidc_models').select('payload').where('model', '=', 'UserApp').where('id', '=', userAppId(userId, clientId)).executeTakeFirst();
  return row?.payload as UserAppRow | undefined;
}

export async function saveUserApp(db: Executor, userId: string, app: UserAppRow): Promise<void> {
  await upsertModel(db, { model: 'UserApp', id: userAppId(userId, app.clientId), payload: app as unknown as Record<string, unknown>, expiresAt: null, userId });
}

export async function listUserApps(db: Executor, userId: string): Promise<UserAppRow[]> {
  const rows = await db.selectFrom('oidc_models').select('payload').where('model', '=', 'UserApp').where('user_id', '=', userId).execute();
  return rows.map((row) => row.payload as unknown as UserAppRow);
}

export async function deleteUserApp(db: Executor, userId: string, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('oidc_models').where('model', '=', 'UserApp').where('id', '=', userAppId(userId, clientId)).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Retention (modules/retention): the provider's rows a day after they expired. */
export const expiredModelRetention = tableRule({
  table: 'oidc_models',
  rule: `the OpenID Provider's codes, tokens, sessions and requests expired over ${SPENT_ROW_DAYS} day ago`,
  cutoff: (now) => addDays(now, -SPENT_ROW_DAYS),
  purge: purgeExpiredModels,
  count: countExpiredModels,
});

// The SQL of enterprise SSO: connections, the account's policy, linked identities, sign-ins
// under way (flows), the single-use codes, and the SAML replay store. Every query of an
// account's data names the account (tenant isolation).
import type { SsoConnectionRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import { singleUse } from '../../db/single-use.repo.js';
import { spentRowsRule, type RetentionRule } from '../retention/retention-rules.js';

/** Sign-ins under way, their codes, and the SAML replay store: single use (db/single-use.repo.ts). */
export const ssoFlows = singleUse('sso_flows', { key: 'id' });
export const ssoCodes = singleUse('sso_codes', { key: 'code_hash' });
export const samlAssertions = singleUse('sso_assertions', { key: 'assertion_id' });

// ---- connections -------------------------------------------------------------------------

export async function insertConnection(
  db: Executor,
  row: { id: string; accountId: string; type: 'oidc' | 'saml'; name: string; config: unknown; secrets: string; now: Date },
): Promise<SsoConnectionRow> {
  return db
    .insertInto('sso_connections')
    .values({ id: row.id, account_id: row.accountId, type: row.type, name: row.name, config: JSON.stringify(row.config), secrets: row.secrets, created_at: row.now, updated_at: row.now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listConnections(db: Executor, accountId: string): Promise<SsoConnectionRow[]> {
  return db.selectFrom('sso_connections').selectAll().where('account_id', '=', accountId).orderBy('created_at').execute();
}

/** One connection of the account: another account's id is simply not found. */
export async function findAccountConnection(db: Executor, accountId: string, id: string): Promise<SsoConnectionRow | undefined> {
  return db.selectFrom('sso_connections').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

// Every SAML response and SSO start by id reads it: prepared (db/prepared.ts), its columns named.
const connectionById = preparedStatement<SsoConnectionRow>('sso_connection_by_id', `
  SELECT id, account_id, type, name, enabled, config, secrets, created_at, updated_at FROM sso_connections WHERE id = $1`);

/** A connection by id alone: only for the public sign-in routes, whose URL names it. */
export async function findConnection(db: Executor, id: string): Promise<SsoConnectionRow | undefined> {
  const [row] = await connectionById(db, [id]);
  return row;
}

/** The account's first enabled connection (sign-in by email, the enforcement reply). */
export async function findEnabledConnectionOfAccount(db: Executor, accountId: string): Promise<SsoConnectionRow | undefined> {
  return db
    .selectFrom('sso_connections')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('enabled', '=', true)
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
}

/** Whether any account has an enabled connection (the hosted sign-in page then asks for the email first). */
export async function anyEnabledConnection(db: Executor): Promise<boolean> {
  const row = await db.selectFrom('sso_connections').select('id').where('enabled', '=', true).limit(1).executeTakeFirst();
  return row !== undefined;
}

export interface UpdateConnection {
  accountId: string;
  id: string;
  changes: { name?: string; enabled?: boolean; config?: unknown; secrets?: string };
  now: Date;
}

export async function updateConnection(db: Executor, { accountId, id, changes, now }: UpdateConnection): Promise<SsoConnectionRow | undefined> {
  return db
    .updateTable('sso_connections')
    .set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
      ...(changes.config !== undefined ? { config: JSON.stringify(changes.config) } : {}),
      ...(changes.secrets !== undefined ? { secrets: changes.secrets } : {}),
      updated_at: now,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteConnection(db: Executor, accountId: string, id: string): Promise<SsoConnectionRow | undefined> {
  return db.deleteFrom('sso_connections').where('account_id', '=', accountId).where('id', '=', id).returningAll().executeTakeFirst();
}

// ---- policy ------------------------------------------------------------------------------

export interface SsoPolicy {
  enforced: boolean;
  auto_join: boolean;
  default_role: 'member' | 'admin';
}

export const DEFAULT_POLICY: SsoPolicy = { enforced: false, auto_join: false, default_role: 'member' };

export async function findPolicy(db: Executor, accountId: string): Promise<SsoPolicy> {
  const row = await db.selectFrom('sso_settings').select(['enforced', 'auto_join', 'default_role']).where('account_id', '=', accountId).executeTakeFirst();
  return row ?? DEFAULT_POLICY;
}

/** Writes the policy; returns the previous one (to see enforcement being turned on). */
export interface UpsertPolicy {
  accountId: string;
  policy: SsoPolicy;
  now: Date;
}

export async function upsertPolicy(db: Executor, { accountId, policy, now }: UpsertPolicy): Promise<SsoPolicy> {
  const previous = await db
    .selectFrom('sso_settings')
    .select(['enforced', 'auto_join', 'default_role'])
    .where('account_id', '=', accountId)
    .forUpdate()
    .executeTakeFirst();
  await db
    .insertInto('sso_settings')
    .values({ account_id: accountId, ...policy, updated_at: now })
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ ...policy, updated_at: now }))
    .execute();
  return previous ?? DEFAULT_POLICY;
}

// Identities are read and written with the sign-in (sso-sign-in.repo.ts).

// ---- flows (sign-ins under way) ----------------------------------------------------------

export interface NewFlow {
  id: string;
  connectionId: string;
  requestKey: string;
  redirectUri: string;
  clientState: string;
  codeVerifier?: string | null;
  nonce?: string | null;
  expiresAt: Date;
}

export async function insertFlow(db: Executor, flow: NewFlow): Promise<void> {
  await db
    .insertInto('sso_flows')
    .values({
      id: flow.id,
      connection_id: flow.connectionId,
      request_key: flow.requestKey,
      redirect_uri: flow.redirectUri,
      client_state: flow.clientState,
      code_verifier: flow.codeVerifier ?? null,
      nonce: flow.nonce ?? null,
      expires_at: flow.expiresAt,
    })
    .execute();
}

/** A live flow by its request key alone (OIDC: the callback names no connection). */
export async function findFlowByKey(db: Executor, requestKey: string, now: Date) {
  return ssoFlows.findLive(db, { match: { request_key: requestKey }, now, columns: '*' });
}

/** Spends the flow (of two responses to one request, one wins). */
export async function spendFlow(db: Executor, requestKey: string, now: Date) {
  return ssoFlows.spend(db, { match: { request_key: requestKey }, now });
}

// ---- codes -------------------------------------------------------------------------------

/** Spends a live code (a second redemption finds nothing). */
export async function spendCode(db: Executor, codeHash: string, now: Date) {
  return ssoCodes.spend(db, { match: { code_hash: codeHash }, now, returning: ['client_state', 'user_id', 'connection_id', 'multi_factor'] });
}

/**
 * Retention (modules/retention): SSO requests and codes used or expired over a day ago; the SAML
 * replay store 1 day after its assertion could no longer be accepted.
 */
export const ssoRetention: readonly RetentionRule[] = [spentRowsRule(ssoFlows), spentRowsRule(ssoCodes), spentRowsRule(samlAssertions)];

// The only SQL on oauth_clients (migrations/0015): the OpenID Provider's relying parties.
import type { Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import type { Database, OAuthClientsTable } from '../../db/schema.js';
import { providerMetadata, type ClientRegistration } from './client-metadata.js';

export type OAuthClientRow = Selectable<Database['oauth_clients']>;

export interface NewClientRow {
  clientId: string;
  name: string;
  accountId: string | null;
  secretHash: string | null;
  firstParty: boolean;
  requireMfa: boolean;
  registration: ClientRegistration;
}

export async function insertClient(db: Executor, row: NewClientRow): Promise<OAuthClientRow> {
  return db
    .insertInto('oauth_clients')
    .values({
      client_id: row.clientId,
      name: row.name,
      account_id: row.accountId,
      secret_hash: row.secretHash,
      first_party: row.firstParty,
      require_mfa: row.requireMfa,
      metadata: JSON.stringify(row.registration),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

// `satisfies` keeps the list in step with the table type (a prepared statement names its columns).
const CLIENT_COLUMNS = Object.keys({
  client_id: true, name: true, account_id: true, secret_hash: true, previous_secret_hash: true, previous_secret_expires_at: true,
  first_party: true, require_mfa: true, metadata: true, created_at: true, updated_at: true,
} as const satisfies Record<keyof OAuthClientsTable, true>).join(', ');

// The provider looks the client up on every request it serves: prepared (db/prepared.ts).
const clientById = preparedStatement<OAuthClientRow>('oauth_client_by_id', `SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1`);

export async function findClient(db: Executor, clientId: string): Promise<OAuthClientRow | undefined> {
  const [row] = await clientById(db, [clientId]);
  return row;
}

/** Locks the row for a change (PATCH, rotate-secret) so two admins' edits do not interleave. */
export async function lockClient(db: Executor, clientId: string): Promise<OAuthClientRow | undefined> {
  return db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).forUpdate().executeTakeFirst();
}

export async function listClients(db: Executor): Promise<OAuthClientRow[]> {
  return db.selectFrom('oauth_clients').selectAll().orderBy('created_at', 'desc').orderBy('client_id').execute();
}

export async function listClientsByIds(db: Executor, clientIds: readonly string[]): Promise<OAuthClientRow[]> {
  if (clientIds.length === 0) return [];
  return db.selectFrom('oauth_clients').selectAll().where('client_id', 'in', [...clientIds]).execute();
}

export interface ClientUpdate {
  clientId: string;
  change: Partial<{ name: string; accountId: string | null; firstParty: boolean; requireMfa: boolean; registration: ClientRegistration }>;
  now: Date;
}

export async function updateClient(db: Executor, { clientId, change, now }: ClientUpdate): Promise<OAuthClientRow> {
  return db
    .updateTable('oauth_clients')
    .set({
      ...(change.name !== undefined ? { name: change.name } : {}),
      ...(change.accountId !== undefined ? { account_id: change.accountId } : {}),
      ...(change.firstParty !== undefined ? { first_party: change.firstParty } : {}),
      ...(change.requireMfa !== undefined ? { require_mfa: change.requireMfa } : {}),
      ...(change.registration !== undefined ? { metadata: JSON.stringify(change.registration) } : {}),
      updated_at: now,
    })
    .where('client_id', '=', clientId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface SecretReplacement {
  clientId: string;
  secretHash: string;
  /** Until when the old secret stays valid. */
  previousUntil: Date;
  now: Date;
}

/** The new secret's hash; the old one stays valid until `previousUntil`. */
export async function replaceClientSecret(db: Executor, { clientId, secretHash, previousUntil, now }: SecretReplacement): Promise<void> {
  await db
    .updateTable('oauth_clients')
    .set((eb) => ({
      previous_secret_hash: eb.ref('secret_hash'),
      previous_secret_expires_at: previousUntil,
      secret_hash: secretHash,
      updated_at: now,
    }))
    .where('client_id', '=', clientId)
    .execute();
}

export async function deleteClient(db: Executor, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('oauth_clients').where('client_id', '=', clientId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** What oidc-provider's Client adapter returns: the provider's metadata, or undefined. */
export async function findClientMetadata(db: Executor, clientId: string): Promise<Record<string, unknown> | undefined> {
  const row = await findClient(db, clientId);
  return row && providerMetadata(row);
}

// The rows one provider request reads one after another, read in one statement (see
// request-reads.ts): a code, refresh or access token, the grant it was issued under, the provider
// session it expires with (if it does), the user it stands for and its client. oidc-provider
// asks for them one at a time (client, token, session, grant, account: five statements for a
// code exchange, four for userinfo); each is one round trip and one socket write on the server.
import type { Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { preparedStatement } from '../../db/prepared.js';
import type { UsersTable } from '../../db/schema.js';
import type { OAuthClientRow } from './clients.repo.js';

/** What findAccount needs of a user (provider.ts): the claims, and whether the user may sign in. */
export type AccountFacts = Pick<
  Selectable<UsersTable>,
  'id' | 'name' | 'timezone' | 'updated_at' | 'email' | 'email_verified_at' | 'account_id' | 'account_role' | 'role' | 'is_active'
>;

const ACCOUNT_COLUMNS = 'id, name, timezone, updated_at, email, email_verified_at, account_id, account_role, role, is_active';

// findAccount runs on every grant and every userinfo request: prepared (db/prepared.ts).
const accountById = preparedStatement<AccountFacts>('oidc_account_by_id', `SELECT ${ACCOUNT_COLUMNS} FROM users WHERE id = $1`);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findAccountFacts(db: Executor, userId: string): Promise<AccountFacts | undefined> {
  // Not a user id at all (users.id is a uuid): no such user, rather than a failed cast.
  if (!UUID.test(userId)) return undefined;
  const [row] = await accountById(db, [userId]);
  return row;
}

type Found = { payload: Record<string, unknown>; consumed_at: Date | null };

export interface GrantSourceRows {
  /** The client ($4, or else the token's own), undefined when there is none. */
  client?: OAuthClientRow;
  /** The token of model $1 and id $2, undefined when there is no live one. */
  token?: Found;
  /** The token's grant (undefined: none live); absent when the token has no grant. */
  grant?: Found;
  /** The provider session the token expires with, by its uid; absent when it does not. */
  session?: Found;
  /** The grant's user. */
  account?: AccountFacts;
}

interface BundleRow {
  client_id: string | null;
  client_name: string;
  client_account_id: string | null;
  secret_hash: string | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
  first_party: boolean;
  require_mfa: boolean;
  metadata: Record<string, unknown>;
  client_created_at: Date;
  client_updated_at: Date;
  payload: Record<string, unknown> | null;
  consumed_at: Date | null;
  grant_payload: Record<string, unknown> | null;
  grant_consumed_at: Date | null;
  session_payload: Record<string, unknown> | null;
  session_consumed_at: Date | null;
  user_id: string | null;
  user_name: AccountFacts['name'];
  timezone: AccountFacts['timezone'];
  user_updated_at: AccountFacts['updated_at'];
  email: AccountFacts['email'];
  email_verified_at: AccountFacts['email_verified_at'];
  user_account_id: AccountFacts['account_id'];
  account_role: AccountFacts['account_role'];
  role: AccountFacts['role'];
  is_active: AccountFacts['is_active'];
}

// $1 model, $2 id, $3 now, $4 the client id (null: the token's own client). Always one row; each
// LEFT JOIN finds what the provider would find with its own look-up: live rows only, a grant by
// its id, a session by its uid (only for a token that expires with its session), the user by
// the grant's user_id (the provider checks that the token's account is the grant's).
const bundle = preparedStatement<BundleRow>('oidc_grant_source_bundle', `
  SELECT c.client_id, c.name AS client_name, c.account_id AS client_account_id, c.secret_hash, c.previous_secret_hash,
         c.previous_secret_expires_at, c.first_party, c.require_mfa, c.metadata, c.created_at AS client_created_at, c.updated_at AS client_updated_at,
         t.payload, t.consumed_at,
         g.payload AS grant_payload, g.consumed_at AS grant_consumed_at,
         s.payload AS session_payload, s.consumed_at AS session_consumed_at,
         u.id AS user_id, u.name AS user_name, u.timezone, u.updated_at AS user_updated_at, u.email, u.email_verified_at,
         u.account_id AS user_account_id, u.account_role, u.role, u.is_active
    FROM (SELECT $1::text AS model, $2::text AS id) k
    LEFT JOIN oidc_models t ON t.model = k.model AND t.id = k.id AND (t.expires_at IS NULL OR t.expires_at > $3)
    LEFT JOIN oauth_clients c ON c.client_id = COALESCE($4::text, t.payload->>'clientId')
    LEFT JOIN oidc_models g ON g.model = 'Grant' AND g.id = t.grant_id AND (g.expires_at IS NULL OR g.expires_at > $3)
    LEFT JOIN oidc_models s ON s.model = 'Session' AND s.uid = t.payload->>'sessionUid' AND t.payload->>'expiresWithSession' = 'true'
                           AND (s.expires_at IS NULL OR s.expires_at > $3)
    LEFT JOIN users u ON u.id = g.user_id`);

export async function findGrantSourceRows(
  db: Executor,
  { model, id, now, clientId }: { model: string; id: string; now: Date; clientId: string | null },
): Promise<GrantSourceRows> {
  const [row] = await bundle(db, [model, id, now, clientId]);
  if (!row) return {};
  const found: GrantSourceRows = {};
  if (row.client_id !== null) {
    found.client = {
      client_id: row.client_id, name: row.client_name, account_id: row.client_account_id, secret_hash: row.secret_hash,
      previous_secret_hash: row.previous_secret_hash, previous_secret_expires_at: row.previous_secret_expires_at,
      first_party: row.first_party, require_mfa: row.require_mfa, metadata: row.metadata,
      created_at: row.client_created_at, updated_at: row.client_updated_at,
    };
  }
  if (row.payload === null) return found;
  found.token = { payload: row.payload, consumed_at: row.consumed_at };
  if (row.payload.grantId !== undefined && row.grant_payload !== null) found.grant = { payload: row.grant_payload, consumed_at: row.grant_consumed_at };
  if (row.session_payload !== null) found.session = { payload: row.session_payload, consumed_at: row.session_consumed_at };
  if (row.user_id !== null) {
    found.account = {
      id: row.user_id, name: row.user_name, timezone: row.timezone, updated_at: row.user_updated_at, email: row.email,
      email_verified_at: row.email_verified_at, account_id: row.user_account_id, account_role: row.account_role, role: row.role, is_active: row.is_active,
    };
  }
  return found;
}

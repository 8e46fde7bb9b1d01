// The statements of an SSO sign-in's answer (the SAML ACS, the OIDC callback), as few and as
// prepared as they can be: each statement is a socket write and a parse on both sides, and
// they were most of the ACS's own CPU (docs/performance.md, "Enterprise SSO"). The ACS reads
// the connection with the request it answers; its transaction spends the request, records the
// assertion and reads who the identity is in one statement, and writes what the sign-in adds
// (identity, audit, code) together with a new user's rows (db/together.ts).
import type { SsoConnectionRow, UserRow } from '../../db/schema.js';
import type { Executor } from '../../db/database.js';
import { preparedStatement, USERS_COLUMNS } from '../../db/prepared.js';
import type { Write } from '../../db/together.js';
import { verifiedDomainOwnerSql } from '../domains/domains.repo.js';
import { DEFAULT_POLICY, type SsoPolicy } from './sso.repo.js';

// ---- before the transaction: the connection and the request the response answers -------

// $1 connection, $2 request key (the response's InResponseTo; null: none), $3 now.
const connectionAndRequest = preparedStatement<SsoConnectionRow & { request_created_at: Date | null }>('sso_connection_and_request', `
  SELECT c.id, c.account_id, c.type, c.name, c.enabled, c.config, c.secrets, c.created_at, c.updated_at,
         (SELECT f.created_at FROM sso_flows f
           WHERE f.connection_id = c.id AND f.request_key = $2 AND f.used_at IS NULL AND (f.expires_at IS NULL OR f.expires_at > $3)) AS request_created_at
    FROM sso_connections c WHERE c.id = $1`);

/**
 * The connection a SAML response is posted to, and when the live request of that connection it
 * answers was made (node-saml's request store wants that); undefined where there is none.
 */
export async function findConnectionAndRequest(
  db: Executor,
  { connectionId, requestKey, now }: { connectionId: string; requestKey: string | null; now: Date },
): Promise<{ connection: SsoConnectionRow | undefined; requestCreatedAt: Date | undefined }> {
  const [row] = await connectionAndRequest(db, [connectionId, requestKey, now]);
  if (!row) return { connection: undefined, requestCreatedAt: undefined };
  const { request_created_at, ...connection } = row;
  return { connection, requestCreatedAt: request_created_at ?? undefined };
}

// ---- in the transaction ------------------------------------------------------------------

// Who the identity is, in one read: the account that verified the email's domain, the user the
// identity is linked to (else the user holding the address), and the account's policy. The
// placeholders: domain, connection, subject, account, email (lower-cased).
const factsColumns = (domain: string): string =>
  `(${verifiedDomainOwnerSql(domain)}) AS domain_account_id, i.user_id AS linked_user_id, s.enforced, s.auto_join, s.default_role, ${USERS_COLUMNS}`;
const factsJoins = ({ connection, subject, account, email }: { connection: string; subject: string; account: string; email: string }): string => `
    LEFT JOIN sso_identities i ON i.connection_id = ${connection} AND i.subject = ${subject}
    LEFT JOIN sso_settings s ON s.account_id = ${account}
    LEFT JOIN users ON users.id = COALESCE(i.user_id, (SELECT id FROM users WHERE lower(email) = ${email}))`;
type FactsRow = Partial<UserRow> & { domain_account_id: string | null; linked_user_id: string | null; auto_join: boolean | null; default_role: SsoPolicy['default_role'] | null; enforced: boolean | null };

const signInFacts = preparedStatement<FactsRow>('sso_sign_in_facts', `
  SELECT ${factsColumns('$1')} FROM (SELECT 1) AS one ${factsJoins({ connection: '$2', subject: '$3', account: '$4', email: '$5' })}`);

// The SAML ACS's transaction in one statement: the flow spent as db/single-use.repo.ts spends
// (the conditional UPDATE is the lock: of two answers to one request, the second matches
// nothing), the assertion ID recorded, and the sign-in facts read. The caller refuses (and so
// rolls back) when the flow was not spent or the assertion was used before. $1 now, $2 request
// key (null: IdP-initiated, nothing to spend), $3 connection, $4 assertion ID, $5 keep until,
// $6 used_at, then the facts: $7 domain, $8 subject, $9 account, $10 email.
const spendRecordFacts = preparedStatement<FactsRow & { flow_connection_id: string | null; redirect_uri: string | null; client_state: string | null; recorded: boolean }>('sso_saml_answer', `
  WITH spent AS (
    UPDATE sso_flows SET used_at = $1
     WHERE request_key = $2 AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
    RETURNING connection_id, redirect_uri, client_state
  ), recorded AS (
    INSERT INTO sso_assertions (connection_id, assertion_id, expires_at, used_at) VALUES ($3, $4, $5, $6)
    ON CONFLICT (connection_id, assertion_id) DO NOTHING
    RETURNING assertion_id
  )
  SELECT spent.connection_id AS flow_connection_id, spent.redirect_uri, spent.client_state,
         EXISTS (SELECT 1 FROM recorded) AS recorded, ${factsColumns('$7')}
    FROM (SELECT 1) AS one LEFT JOIN spent ON true ${factsJoins({ connection: '$3', subject: '$8', account: '$9', email: '$10' })}`);

export interface SignInFacts {
  domainAccountId: string | null;
  /** Linked: the identity's user (undefined if gone). Not linked: the user holding the address, if any. */
  linked: boolean;
  user: UserRow | undefined;
  policy: SsoPolicy;
}

export interface FactsOf {
  /** The email's domain; null (no usable address) finds no account. */
  domain: string | null;
  connectionId: string;
  subject: string;
  accountId: string;
  email: string | null;
}

function factsFrom(row: FactsRow): SignInFacts {
  const { domain_account_id, linked_user_id, enforced, auto_join, default_role, ...user } = row;
  return {
    domainAccountId: domain_account_id,
    linked: linked_user_id !== null,
    user: user.id ? (user as UserRow) : undefined,
    policy: auto_join === null || default_role === null || enforced === null ? DEFAULT_POLICY : { enforced, auto_join, default_role },
  };
}

export async function findSignInFacts(db: Executor, facts: FactsOf): Promise<SignInFacts> {
  const [row] = await signInFacts(db, [facts.domain, facts.connectionId, facts.subject, facts.accountId, facts.email?.toLowerCase() ?? null]);
  return factsFrom(row!);
}

export interface SamlAnswer {
  /** The AuthnRequest answered; null for an IdP-initiated response. */
  requestKey: string | null;
  assertionId: string;
  keepUntil: Date;
  now: Date;
  facts: FactsOf;
}

/** Spends the request (its flow, when live), records the assertion's use (false: used before, a replay), and reads the sign-in facts. */
export async function answerSamlRequest(
  db: Executor,
  { requestKey, assertionId, keepUntil, now, facts }: SamlAnswer,
): Promise<{ flow: { connection_id: string; redirect_uri: string; client_state: string } | undefined; recorded: boolean; facts: SignInFacts }> {
  // used_at is when the row may go (retention purges by the earlier of used_at and expires_at):
  // not before the assertion could no longer be accepted anyway.
  const [row] = await spendRecordFacts(db, [
    now, requestKey, facts.connectionId, assertionId, keepUntil, keepUntil > now ? keepUntil : now,
    facts.domain, facts.subject, facts.accountId, facts.email?.toLowerCase() ?? null,
  ]);
  const { flow_connection_id, redirect_uri, client_state, recorded, ...factsRow } = row!;
  const flow = flow_connection_id && redirect_uri !== null && client_state !== null ? { connection_id: flow_connection_id, redirect_uri, client_state } : undefined;
  return { flow, recorded: recorded === true, facts: factsFrom(factsRow) };
}

// ---- what the sign-in writes (db/together.ts) ---------------------------------------------

const insertIdentity = preparedStatement('sso_insert_identity', `
  INSERT INTO sso_identities (connection_id, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)`);

export const identityWrite = (row: { connectionId: string; subject: string; userId: string; email: string; now: Date }): Write => ({
  sql: insertIdentity.marked,
  parameters: [row.connectionId, row.subject, row.userId, row.email, row.now],
});

const insertCode = preparedStatement('sso_insert_code', `
  INSERT INTO sso_codes (code_hash, client_state, user_id, connection_id, multi_factor, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`);

export const codeWrite = (row: { codeHash: string; clientState: string; userId: string; connectionId: string; multiFactor: boolean; expiresAt: Date }): Write => ({
  sql: insertCode.marked,
  parameters: [row.codeHash, row.clientState, row.userId, row.connectionId, row.multiFactor, row.expiresAt],
});

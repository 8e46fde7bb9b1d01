// Kysely's view of the tables in migrations/*.sql. Keep the two in step.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface AccountsTable {
  id: string;
  name: string;
  display_code: string;
  owner_id: string | null;
  created_at: CreatedAt;
}

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string | null;
  name: string;
  role: Generated<'engineer' | 'admin'>;
  account_id: string;
  account_role: 'owner' | 'admin' | 'member';
  is_active: Generated<boolean>;
  email_verified_at: NullableTimestamp;
  must_change_password: Generated<boolean>;
  phone: string | null;
  job_title: string | null;
  timezone: string | null;
  last_login: NullableTimestamp;
  invite_code_id: string | null;
  failed_login_count: Generated<number>;
  lockout_count: Generated<number>;
  locked_until: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  mfa_enabled: Generated<boolean>;
}

export interface SubscriptionsTable {
  id: Generated<string>;
  account_id: string;
  plan: string;
  status: 'trialing' | 'active' | 'past_due' | 'canceled';
  current_period_start: NullableTimestamp;
  current_period_end: NullableTimestamp;
  created_at: CreatedAt;
}

export interface InviteCodesTable {
  id: Generated<string>;
  code: string;
  assigned_plan: string | null;
  trial_duration_days: number | null;
  expires_at: NullableTimestamp;
  used_at: NullableTimestamp;
  used_by_id: string | null;
  created_by_id: string | null;
  created_at: CreatedAt;
}

export interface AccountInvitesTable {
  id: Generated<string>;
  account_id: string;
  code: string;
  email: string;
  role: 'admin' | 'member';
  invited_by_id: string | null;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  accepted_by_id: string | null;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: CreatedAt;
  revoked_at: NullableTimestamp;
  ip: string | null;
  user_agent: string | null;
  last_used_at: NullableTimestamp;
  last_ip: string | null;
  aal: Generated<'aal1' | 'aal2'>;
  amr: Generated<string[]>;
}

export interface RefreshTokensTable {
  id: string;
  token_hash: string;
  user_id: string;
  session_id: string;
  parent_id: string | null;
  replaced_by_id: string | null;
  issued_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface SingleUseTokensTable {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface EmailVerificationTokensTable extends SingleUseTokensTable {
  email: string;
}

export interface OAuthIdentitiesTable {
  id: Generated<string>;
  user_id: string;
  provider: string;
  subject: string;
  email: string | null;
  created_at: CreatedAt;
}

export interface OAuthStatesTable {
  state_hash: string;
  provider: string;
  code_verifier: string;
  nonce: string;
  redirect_uri: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface AuditLogsTable {
  /** bigint, returned as a string so it never loses precision */
  id: ColumnType<string, never, never>;
  created_at: CreatedAt;
  user_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, string>;
}

export interface PlatformSettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export interface AppSecretsTable {
  name: string;
  value: string;
  created_at: CreatedAt;
}

/** A job's payload: JSON, written as its text (JSON.stringify), read back parsed. Its type per
 *  kind is modules/jobs/jobs.types.ts's JobPayloads. */
type JsonColumn = ColumnType<unknown, string, string>;

export interface JobsTable {
  id: Generated<string>;
  kind: string;
  payload: JsonColumn;
  status: Generated<'pending' | 'succeeded' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: UpdatedAt;
  last_error: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  url: string;
  description: string | null;
  events: string[] | null;
  enabled: Generated<boolean>;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: NullableTimestamp;
  /** The database's now() at creation: events queued from then on are fanned out to it (0011). */
  receives_events_since: ColumnType<Date, never, never>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  seq: ColumnType<string, never, never>;
  endpoint_id: string;
  event_id: string;
  type: string;
  body: string;
  status: Generated<'pending' | 'succeeded' | 'failed'>;
  attempts: Generated<number>;
  response_status: number | null;
  duration_ms: number | null;
  error: string | null;
  created_at: CreatedAt;
  last_attempt_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface SigningKeysTable {
  kid: string;
  alg: 'ES256' | 'EdDSA' | 'RS256';
  state: 'next' | 'current' | 'previous' | 'revoked';
  // modules/keys' PublicJwk, read back parsed.
  public_jwk: ColumnType<unknown, string, string>;
  private_key: string | null;
  created_at: CreatedAt;
  activated_at: NullableTimestamp;
  retired_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface SigningKeySetTable {
  id: boolean;
  version: ColumnType<string, never, string>;
  legacy_hs256_until: NullableTimestamp;
}

export interface PeriodicTasksTable {
  name: string;
  next_run_at: Timestamp;
  running_until: NullableTimestamp;
  run_id: string | null;
  last_started_at: NullableTimestamp;
  last_finished_at: NullableTimestamp;
  last_error: string | null;
}

export interface AccountImportKeysTable {
  key: string;
  account_id: string;
  created_at: CreatedAt;
}

export interface UserMfaTable {
  user_id: string;
  /** Sealed by the secret box, purpose `totp:<user id>`. */
  totp_secret: string;
  enabled_at: NullableTimestamp;
  /** The replay guard: the newest TOTP time step accepted. bigint. */
  last_used_step: ColumnType<string | number | bigint | null, string | number | null | undefined, string | number | null>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface MfaRecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface MfaChallengesTable {
  id: string;
  token_hash: string;
  user_id: string;
  first_factor: string;
  audit_action: string;
  audit_details: ColumnType<Record<string, unknown>, string | undefined, string>;
  passkey_challenge: string | null;
  failed_attempts: Generated<number>;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface PasskeysTable {
  id: Generated<string>;
  user_id: string;
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  /** bigint: read it through Number(). */
  counter: ColumnType<string | number | bigint, string | number, string | number>;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
}

export interface WebauthnChallengesTable {
  id: Generated<string>;
  challenge: string;
  purpose: 'register' | 'login';
  user_id: string | null;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  subscriptions: SubscriptionsTable;
  invite_codes: InviteCodesTable;
  account_invites: AccountInvitesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  password_reset_tokens: SingleUseTokensTable;
  email_verification_tokens: EmailVerificationTokensTable;
  oauth_identities: OAuthIdentitiesTable;
  oauth_states: OAuthStatesTable;
  audit_logs: AuditLogsTable;
  platform_settings: PlatformSettingsTable;
  app_secrets: AppSecretsTable;
  jobs: JobsTable;
  periodic_tasks: PeriodicTasksTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  account_import_keys: AccountImportKeysTable;
  ui_sessions: UiSessionsTable;
  signing_keys: SigningKeysTable;
  signing_key_set: SigningKeySetTable;
  user_mfa: UserMfaTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
}

/** A hosted-pages browser session (modules/hosted-ui): the cookie's hash and its session. */
export interface UiSessionsTable {
  cookie_hash: string;
  session_id: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type AccountRow = Selectable<AccountsTable>;
export type SubscriptionRow = Selectable<SubscriptionsTable>;
export type InviteCodeRow = Selectable<InviteCodesTable>;
export type AccountInviteRow = Selectable<AccountInvitesTable>;
export type AuditLogRow = Selectable<AuditLogsTable>;

// The audit-action catalogue: every action the audit log can hold, named once here. An action
// is part of the admin API (GET /admin/audit-logs?action=…) and of operators' queries, so a
// name is never changed once released; add new ones instead.
export const AUDIT_ACTIONS = [
  // Sign-in and sessions
  'auth.register',
  'auth.login',
  'auth.login_failed',
  'auth.account_locked',
  'auth.password_check_failed',
  'auth.logout',
  'auth.refresh_token_reuse',
  'auth.oauth_register',
  'auth.oauth_link',
  'auth.oauth_login',
  'auth.session_revoked',
  'auth.other_sessions_revoked',
  'auth.passkey_login',
  'auth.mfa_challenge',
  'auth.mfa_failed',
  'auth.passkey_login_failed',
  // The user's own account
  'auth.profile_update',
  'auth.email_verified',
  'auth.password_change',
  'auth.password_reset.request',
  'auth.password_reset.complete',
  'auth.account_deleted',
  'auth.data_exported',
  'auth.mfa_totp_setup',
  'auth.mfa_enabled',
  'auth.mfa_disabled',
  'auth.mfa_recovery_codes_regenerated',
  'auth.passkey_registered',
  'auth.passkey_renamed',
  'auth.passkey_deleted',
  // Accounts (tenants)
  'account.invite_created',
  'account.invite_revoked',
  'account.member_removed',
  'account.member_role_changed',
  'account.ownership_transferred',
  // Platform administration
  'admin.created',
  'admin.user_promoted',
  'admin.user_updated',
  'admin.invite_codes_created',
  'admin.setting_changed',
  // Webhooks (modules/webhooks)
  'webhook.endpoint_created',
  'webhook.endpoint_updated',
  'webhook.endpoint_deleted',
  'webhook.secret_rotated',
  'webhook.test_sent',
  'webhook.endpoint_disabled',
  'admin.user_imported',
  'admin.user_sessions_revoked',
  'admin.user_deleted',
  'admin.user_mfa_reset',
  // Signing keys (modules/keys)
  'keys.rotated',
  'keys.revoked',
  // The OpenID Provider (modules/oidc-provider)
  'oidc.client_created',
  'oidc.client_updated',
  'oidc.client_deleted',
  'oidc.client_secret_rotated',
  'oidc.consent_granted',
  'oidc.grant_revoked',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

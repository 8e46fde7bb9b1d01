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
  // The user's own account
  'auth.profile_update',
  'auth.email_verified',
  'auth.password_change',
  'auth.password_reset.request',
  'auth.password_reset.complete',
  // Accounts (tenants)
  'account.invite_created',
  'account.invite_revoked',
  'account.member_removed',
  'account.member_role_changed',
  // Platform administration
  'admin.created',
  'admin.user_promoted',
  'admin.user_updated',
  'admin.invite_codes_created',
  'admin.setting_changed',
  // Signing keys (modules/keys)
  'keys.rotated',
  'keys.revoked',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

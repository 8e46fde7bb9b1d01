// The one error type of the service, and the catalogue of every error a client can see.
// Domain code throws `Errors.<name>()`; the error plugin (src/plugins/errors.ts) is the only
// place that turns errors into API replies, `{detail, code}`; the hosted pages put the same
// errors in words through one table of codes (hosted-ui/page-text.ts).
import { STATUS_CODES } from 'node:http';

/**
 * Every stable code a reply can carry, with one line saying when (../shared/API.md, "Errors:
 * stable codes"). Codes are never renamed: clients switch on them. The OpenAPI document lists
 * them (plugins/openapi.ts); a new situation gets a new code here and an entry below.
 */
export const ERROR_CODES = {
  // Credentials and sessions
  not_authenticated: 'No bearer token, or one that is not valid (wrong signature, issuer, type, or its session ended).',
  token_expired: 'The access token expired: refresh it (RFC 6750 `error="invalid_token"`).',
  invalid_credentials: 'Email or password incorrect.',
  inactive_user: 'The user is deactivated.',
  not_enough_permissions: 'The user lacks the role the route needs.',
  invalid_refresh_token: 'The refresh token is not one Keyhold issued, or it expired.',
  refresh_token_revoked: 'The refresh token was revoked (sign-out, reuse, password change).',
  user_not_found: 'No such user (in the caller\'s scope).',
  session_not_found: 'No such session of the user.',
  current_password_incorrect: 'The current password given is wrong.',
  current_password_required: 'The change needs the current password.',
  password_unchanged: 'The new password equals the current one.',
  // Registration and invites
  email_already_registered: 'The email address belongs to another user.',
  invite_code_required: 'Registration needs an invite code.',
  invalid_invite_code: 'No such invite code.',
  invite_code_used: 'The invite code was already used.',
  invite_code_expired: 'The invite code expired.',
  invalid_account_invite_code: 'No such account invite code.',
  account_invite_code_used: 'The account invite code was already used.',
  account_invite_code_expired: 'The account invite code expired.',
  invite_email_mismatch: 'The account invite was sent to another address.',
  // Passwords and email verification
  invalid_or_expired_reset_token: 'The reset token is not valid or expired.',
  invalid_reset_token: 'The reset token is unknown.',
  reset_token_spent: 'The reset token was already used or expired.',
  email_verification_disabled: 'Email verification is switched off.',
  email_already_verified: 'The email address is already verified.',
  verification_token_required: 'No verification token was given.',
  invalid_or_expired_verification_token: 'The verification token is not valid or expired.',
  invalid_verification_token: 'The verification token is unknown.',
  verification_token_spent: 'The verification token was already used or expired.',
  // OAuth sign-in
  provider_not_configured: 'No such OAuth provider is configured.',
  invalid_redirect_uri: 'The redirect_uri is not allowed.',
  invalid_oauth_state: 'The OAuth state is unknown, spent or expired.',
  oauth_sign_in_failed: 'The provider refused the sign-in or its answer did not verify.',
  oauth_provider_unavailable: 'The OAuth provider could not be reached.',
  oauth_no_email: 'The provider shared no email address.',
  account_exists_unverified_email: 'A user with this address exists; sign in first, then link the provider.',
  use_oauth_provider: 'The user has no password: sign in with one of the providers named.',
  // Accounts and administration
  account_not_found: 'No such account.',
  invite_not_found: 'No such invite.',
  setting_not_found: 'No such setting.',
  webhook_not_found: 'No such webhook.',
  signing_key_not_found: 'No such signing key.',
  oauth_client_not_found: 'No such OAuth client (of the OpenID Provider).',
  app_not_found: 'The user has granted no such app.',
  already_a_member: 'The address belongs to a member of the account already.',
  owner_cannot_be_demoted: 'The account owner keeps the owner role.',
  owner_cannot_be_removed: 'The account owner cannot be removed.',
  cannot_change_own_role: 'A user cannot change their own account role.',
  cannot_remove_self: 'A user cannot remove themselves from the account.',
  cannot_deactivate_self: 'An admin cannot deactivate themselves.',
  cannot_remove_own_admin_role: 'An admin cannot remove their own admin role.',
  cannot_delete_self: 'An admin cannot delete their own account through the admin API.',
  transfer_ownership_first: 'The owner of an account with other members must transfer ownership first.',
  // Multi-factor authentication and passkeys
  mfa_already_enabled: 'MFA is already enabled.',
  mfa_not_enabled: 'MFA is not enabled.',
  mfa_setup_not_started: 'MFA setup was not started.',
  invalid_mfa_code: 'The TOTP or recovery code is wrong.',
  second_factor_required: 'An MFA-enrolled user changes a factor from an aal1 session: send a fresh code, or use an aal2 session.',
  invalid_or_expired_mfa_token: 'The MFA token is not valid, expired or spent.',
  passkey_sign_in_failed: 'The passkey assertion did not verify.',
  passkey_registration_failed: 'The passkey attestation did not verify.',
  passkey_not_found: 'No such passkey of the user.',
  passkey_response_unreadable: 'A hosted page\'s passkey step got a body that is not a WebAuthn response.',
  // Verified domains and enterprise SSO
  domain_not_found: 'No such domain of the account.',
  domain_taken: 'Another account has verified this domain.',
  domain_not_allowed: 'A public suffix or a shared mail domain cannot be claimed.',
  domain_verification_failed: 'The DNS TXT record proving the domain was not found.',
  sso_connection_not_found: 'No such SSO connection of the account.',
  sso_not_configured: 'No SSO connection serves this email domain.',
  sso_failed: 'The identity provider\'s response was refused (the reason is audited).',
  invalid_sso_code: 'The SSO code is unknown, spent or expired.',
  sso_domain_not_verified: 'The identity\'s email is not on a verified domain of the connection\'s account.',
  sso_not_a_member: 'Not a member of the connection\'s account, and auto-join is off.',
  sso_required: 'The account enforces SSO for this email domain: use it.',
  // SCIM provisioning (its protocol errors are in the SCIM error schema; this code is internal)
  scim_token_not_found: 'No such SCIM token of the account.',
  scim_error: 'A SCIM protocol error (answered in the SCIM error schema, with its scimType).',
  // Hosted pages
  session_ended: 'A hosted page\'s browser session ended: sign in again.',
  form_expired: 'A hosted page\'s form carried no valid CSRF token.',
  // HTTP
  validation_failed: 'The request did not validate (422 with FastAPI\'s issue list, or a field refused).',
  bad_request: 'The request could not be read (bad URL, framing or headers).',
  not_found: 'No such route.',
  method_not_allowed: 'The route exists for other methods (see Allow).',
  body_too_large: 'The request body is too large.',
  unsupported_media_type: 'The body\'s media type is not one the route reads.',
  rate_limited: 'Too many requests from this address (see Retry-After).',
  internal_error: 'An unexpected fault; logged, never described.',
  service_unavailable: 'The database (or another dependency) cannot be reached (see Retry-After).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface AppErrorOptions {
  status: number;
  code: ErrorCode;
  /** FastAPI-shaped `detail`: a message, or an object such as {error: 'use_oauth_provider'}. */
  detail: unknown;
  headers?: Record<string, string>;
  /** Further members of the reply body beside detail and code (the pages' JSON steps: `location`, `field`). */
  extra?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly detail: unknown;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(options: AppErrorOptions) {
    super(typeof options.detail === 'string' ? options.detail : JSON.stringify(options.detail));
    this.name = 'AppError';
    this.statusCode = options.status;
    this.code = options.code;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  /** The same error with more members in its reply body (e.g. where a page goes next). */
  with(extra: Record<string, unknown>): AppError {
    return new AppError({ status: this.statusCode, code: this.code, detail: this.detail, headers: this.headers, extra: { ...this.extra, ...extra } });
  }
}

/** RFC 7644 §3.12's scimType values this service answers with. */
export type ScimErrorType = 'uniqueness' | 'invalidFilter' | 'invalidValue' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'mutability' | 'tooMany';

/** A SCIM protocol error: /scim/v2 (modules/scim) renders it in the SCIM error schema
 *  (`schemas`, `status` as a string, `scimType`, `detail`). */
export class ScimError extends AppError {
  constructor(
    statusCode: number,
    readonly scimType: ScimErrorType | null,
    detail: string,
  ) {
    super({ status: statusCode, code: 'scim_error', detail });
    this.name = 'ScimError';
  }
}

/** Whether `err` is the catalogue error `entry` makes (e.g. `isCatalogued(err, Errors.inviteNotFound)`):
 *  the same code and status (one code may be answered with two statuses, e.g. invalid_mfa_code). */
export function isCatalogued(err: unknown, entry: () => AppError): err is AppError {
  if (!(err instanceof AppError)) return false;
  const expected = entry();
  return err.code === expected.code && err.statusCode === expected.statusCode;
}

/** A 422 in FastAPI's request-validation shape, for rules JSON schema cannot express. */
export const validationError = (loc: Array<string | number>, msg: string, type = 'value_error'): AppError =>
  new AppError({ status: 422, code: 'validation_failed', detail: [{ loc, msg, type }] });

/** A catalogue entry without headers; one with headers (Bearer, Retry-After, Allow) is an AppError built in place. */
const refuse = (status: number, code: ErrorCode, detail: unknown): AppError => new AppError({ status, code, detail });
const BEARER = { 'WWW-Authenticate': 'Bearer' };


/**
 * The error catalogue: every message a client can see, defined once and referenced by name.
 * The messages are the contract's exact strings (../shared/API.md): clients match on them, so
 * a message never changes; a new situation gets a new entry (and a code above). Request-validation
 * issues (422, FastAPI's `loc`/`msg`/`type` list) are built by `validationError` or the schema layer.
 */
export const Errors = {
  // Credentials and sessions
  credentials: (): AppError => new AppError({ status: 401, code: 'not_authenticated', detail: 'Could not validate credentials', headers: BEARER }),
  /** An access token that was valid but expired: the same reply, plus RFC 6750's error, so a client refreshes. */
  tokenExpired: (): AppError =>
    new AppError({
      status: 401,
      code: 'token_expired',
      detail: 'Could not validate credentials',
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="The access token expired"' },
    }),
  incorrectEmailOrPassword: (): AppError => new AppError({ status: 401, code: 'invalid_credentials', detail: 'Incorrect email or password', headers: BEARER }),
  inactiveUser: (): AppError => refuse(403, 'inactive_user', 'Inactive user'),
  notEnoughPermissions: (): AppError => refuse(403, 'not_enough_permissions', 'Not enough permissions'),
  invalidRefreshToken: (): AppError => refuse(401, 'invalid_refresh_token', 'Invalid refresh token'),
  refreshTokenRevoked: (): AppError => refuse(401, 'refresh_token_revoked', 'Refresh token has been revoked'),
  refreshUserNotFound: (): AppError => refuse(401, 'user_not_found', 'User not found'),
  sessionNotFound: (): AppError => refuse(404, 'session_not_found', 'Session not found'),
  currentPasswordIncorrect: (): AppError => refuse(401, 'current_password_incorrect', 'Current password is incorrect'),
  currentPasswordRequired: (): AppError => refuse(400, 'current_password_required', 'Current password is required'),
  currentPasswordRequiredForEmail: (): AppError => refuse(400, 'current_password_required', 'Current password is required to change email'),
  newPasswordSameAsCurrent: (): AppError => refuse(400, 'password_unchanged', 'New password must be different from current password'),
  // Registration and invites
  emailAlreadyRegistered: (): AppError => refuse(400, 'email_already_registered', 'Email already registered'),
  inviteCodeRequired: (): AppError => refuse(400, 'invite_code_required', 'Invite code is required'),
  invalidInviteCode: (): AppError => refuse(400, 'invalid_invite_code', 'Invalid invite code'),
  inviteCodeUsed: (): AppError => refuse(400, 'invite_code_used', 'Invite code has already been used'),
  inviteCodeExpired: (): AppError => refuse(400, 'invite_code_expired', 'Invite code has expired'),
  invalidAccountInviteCode: (): AppError => refuse(400, 'invalid_account_invite_code', 'Invalid account invite code'),
  accountInviteCodeUsed: (): AppError => refuse(400, 'account_invite_code_used', 'Account invite code has already been used'),
  accountInviteCodeExpired: (): AppError => refuse(400, 'account_invite_code_expired', 'Account invite code has expired'),
  inviteEmailMismatch: (): AppError => refuse(400, 'invite_email_mismatch', { error: 'invite_email_mismatch' }),
  // Passwords and email verification
  invalidOrExpiredResetToken: (): AppError => refuse(400, 'invalid_or_expired_reset_token', 'Invalid or expired reset token'),
  invalidResetToken: (): AppError => refuse(400, 'invalid_reset_token', 'Invalid reset token'),
  resetTokenSpent: (): AppError => refuse(400, 'reset_token_spent', 'Reset token has already been used or has expired'),
  verificationDisabled: (): AppError => refuse(403, 'email_verification_disabled', 'Email verification is currently disabled'),
  emailAlreadyVerified: (): AppError => refuse(400, 'email_already_verified', 'Email is already verified'),
  verificationTokenRequired: (): AppError => refuse(400, 'verification_token_required', 'Token is required'),
  invalidOrExpiredVerificationToken: (): AppError => refuse(400, 'invalid_or_expired_verification_token', 'Invalid or expired verification token'),
  invalidVerificationToken: (): AppError => refuse(400, 'invalid_verification_token', 'Invalid verification token'),
  verificationTokenSpent: (): AppError => refuse(400, 'verification_token_spent', 'Verification token has already been used or has expired'),
  // OAuth sign-in
  providerNotConfigured: (): AppError => refuse(404, 'provider_not_configured', 'Provider not configured'),
  invalidRedirectUri: (): AppError => refuse(400, 'invalid_redirect_uri', 'Invalid redirect_uri'),
  invalidOAuthState: (): AppError => refuse(400, 'invalid_oauth_state', 'Invalid OAuth state'),
  oauthSignInFailed: (): AppError => refuse(400, 'oauth_sign_in_failed', 'OAuth sign-in failed'),
  oauthProviderUnavailable: (): AppError => new AppError({ status: 503, code: 'oauth_provider_unavailable', detail: 'OAuth provider unavailable', headers: { 'Retry-After': '30' } }),
  oauthNoEmail: (): AppError => refuse(400, 'oauth_no_email', 'OAuth provider did not share an email address'),
  accountExistsUnverifiedEmail: (): AppError => refuse(409, 'account_exists_unverified_email', { error: 'account_exists_unverified_email' }),
  // Accounts and administration
  accountNotFound: (): AppError => refuse(404, 'account_not_found', 'Account not found'),
  userNotFound: (): AppError => refuse(404, 'user_not_found', 'User not found'),
  inviteNotFound: (): AppError => refuse(404, 'invite_not_found', 'Invite not found'),
  settingNotFound: (): AppError => refuse(404, 'setting_not_found', 'Setting not found'),
  webhookNotFound: (): AppError => refuse(404, 'webhook_not_found', 'Webhook not found'),
  oauthClientNotFound: (): AppError => refuse(404, 'oauth_client_not_found', 'OAuth client not found'),
  appNotFound: (): AppError => refuse(404, 'app_not_found', 'App not found'),
  signingKeyNotFound: (): AppError => refuse(404, 'signing_key_not_found', 'Signing key not found'),
  alreadyAMember: (): AppError => refuse(400, 'already_a_member', 'This email address already belongs to a member of this account'),
  ownerCannotBeDemoted: (): AppError => refuse(400, 'owner_cannot_be_demoted', 'The account owner cannot be demoted'),
  ownerCannotBeRemoved: (): AppError => refuse(400, 'owner_cannot_be_removed', 'The account owner cannot be removed'),
  cannotChangeOwnRole: (): AppError => refuse(400, 'cannot_change_own_role', 'You cannot change your own account role'),
  cannotRemoveSelf: (): AppError => refuse(400, 'cannot_remove_self', 'You cannot remove yourself from the account'),
  cannotDeactivateSelf: (): AppError => refuse(400, 'cannot_deactivate_self', 'You cannot deactivate your own account'),
  cannotRemoveOwnAdminRole: (): AppError => refuse(400, 'cannot_remove_own_admin_role', 'You cannot remove your own admin role'),
  /** DELETE /admin/users/{id} of the caller: like self-deactivation, it could leave no admin. */
  cannotDeleteSelf: (): AppError => refuse(400, 'cannot_delete_self', 'You cannot delete your own account'),
  /** 409 for deleting the owner of an account that still has other members. */
  transferOwnershipFirst: (): AppError => refuse(409, 'transfer_ownership_first', { error: 'transfer_ownership_first' }),
  // Multi-factor authentication and passkeys
  mfaAlreadyEnabled: (): AppError => refuse(400, 'mfa_already_enabled', 'MFA is already enabled'),
  mfaNotEnabled: (): AppError => refuse(400, 'mfa_not_enabled', 'MFA is not enabled'),
  mfaSetupNotStarted: (): AppError => refuse(400, 'mfa_setup_not_started', 'MFA setup has not been started'),
  invalidMfaCode: (): AppError => refuse(400, 'invalid_mfa_code', 'Invalid MFA code'),
  /** An MFA-enrolled user adds or removes a factor from an aal1 session without a fresh code. */
  secondFactorRequired: (): AppError => refuse(403, 'second_factor_required', 'A second factor is required for this change'),
  /** At POST /auth/mfa/verify the same message is a 401 (the sign-in failed). */
  mfaSignInCodeRejected: (): AppError => refuse(401, 'invalid_mfa_code', 'Invalid MFA code'),
  invalidOrExpiredMfaToken: (): AppError => refuse(401, 'invalid_or_expired_mfa_token', 'Invalid or expired MFA token'),
  passkeySignInFailed: (): AppError => refuse(401, 'passkey_sign_in_failed', 'Passkey sign-in failed'),
  passkeyRegistrationFailed: (): AppError => refuse(400, 'passkey_registration_failed', 'Passkey registration failed'),
  passkeyNotFound: (): AppError => refuse(404, 'passkey_not_found', 'Passkey not found'),
  // SCIM provisioning (modules/scim). The SCIM errors' `detail` names the rule, never echoes input.
  scimTokenNotFound: (): AppError => refuse(404, 'scim_token_not_found', 'SCIM token not found'),
  scimResourceNotFound: (): ScimError => new ScimError(404, null, 'Resource not found'),
  scimUserNameTaken: (): ScimError => new ScimError(409, 'uniqueness', 'userName is already in use in this account'),
  scimEmailTaken: (): ScimError => new ScimError(409, 'uniqueness', 'The email address belongs to another user'),
  scimGroupNameTaken: (): ScimError => new ScimError(409, 'uniqueness', 'displayName is already in use in this account'),
  scimInvalidValue: (detail: string): ScimError => new ScimError(400, 'invalidValue', detail),
  scimInvalidSyntax: (detail: string): ScimError => new ScimError(400, 'invalidSyntax', detail),
  scimInvalidFilter: (detail: string): ScimError => new ScimError(400, 'invalidFilter', detail),
  scimInvalidPath: (detail: string): ScimError => new ScimError(400, 'invalidPath', detail),
  scimNoTarget: (detail: string): ScimError => new ScimError(400, 'noTarget', detail),
  scimOwnerUnchangeable: (): ScimError => new ScimError(400, 'mutability', 'The account owner is managed in Keyhold and is not changed by SCIM'),
  // Verified domains and enterprise SSO (modules/domains, modules/sso)
  domainNotFound: (): AppError => refuse(404, 'domain_not_found', 'Domain not found'),
  domainTaken: (): AppError => refuse(409, 'domain_taken', 'Domain is verified by another account'),
  domainNotAllowed: (): AppError => refuse(422, 'domain_not_allowed', 'Public-suffix and shared mail domains cannot be claimed'),
  domainVerificationFailed: (): AppError => refuse(400, 'domain_verification_failed', 'Domain verification failed: the TXT record was not found'),
  ssoConnectionNotFound: (): AppError => refuse(404, 'sso_connection_not_found', 'SSO connection not found'),
  ssoNotConfigured: (): AppError => refuse(404, 'sso_not_configured', 'SSO is not configured for this email domain'),
  /** Every refused identity-provider response, whatever was wrong with it (the reason is audited). */
  ssoFailed: (): AppError => refuse(400, 'sso_failed', 'SSO sign-in failed'),
  invalidSsoCode: (): AppError => refuse(400, 'invalid_sso_code', 'Invalid or expired SSO code'),
  ssoDomainNotVerified: (): AppError => refuse(403, 'sso_domain_not_verified', "The identity's email is not on one of the account's verified domains"),
  ssoNotAMember: (): AppError => refuse(403, 'sso_not_a_member', 'Not a member of this account: ask for an invitation'),
  /** 403 for a person whose email domain's account enforces SSO, at any other sign-in. */
  ssoRequired: (connectionId: string | null): AppError => refuse(403, 'sso_required', { error: 'sso_required', connection_id: connectionId }),
  ssoTransferOwnershipFirst: (): AppError => refuse(409, 'transfer_ownership_first', { error: 'transfer_ownership_first' }),
  // HTTP
  unsupportedMediaType: (): AppError => refuse(415, 'unsupported_media_type', 'Unsupported media type'),
  bodyTooLarge: (): AppError => refuse(413, 'body_too_large', 'Request body too large'),
  serviceUnavailable: (): AppError => new AppError({ status: 503, code: 'service_unavailable', detail: 'Service unavailable', headers: { 'Retry-After': '5' } }),
  internal: (): AppError => refuse(500, 'internal_error', 'Internal server error'),
  /** 400 for a user who has no password: sign in through one of these providers. */
  useOAuthProvider: (providers: string[]): AppError => refuse(400, 'use_oauth_provider', { error: 'use_oauth_provider', providers }),
  rateLimitExceeded: (max: number, retryAfterSeconds: number): AppError =>
    new AppError({ status: 429, code: 'rate_limited', detail: `Rate limit exceeded: ${max} per 1 minute`, headers: { 'Retry-After': String(retryAfterSeconds) } }),
  /** A 4xx the framework refuses (bad URL, framing, headers, a multipart limit): its status's bare phrase. */
  requestRefused: (status: number): AppError =>
    status === 413 ? Errors.bodyTooLarge()
      : status === 415 ? Errors.unsupportedMediaType()
        : status === 404 ? Errors.notFound()
          : refuse(status, 'bad_request', STATUS_CODES[status] ?? 'Bad Request'),
  notFound: (): AppError => refuse(404, 'not_found', 'Not Found'),
  methodNotAllowed: (allowed: string[]): AppError => new AppError({ status: 405, code: 'method_not_allowed', detail: 'Method Not Allowed', headers: { Allow: allowed.join(', ') } }),
  // Hosted pages (their JSON steps, run by views/hosted-ui/assets/passkey.js)
  /** The browser session ended; `location` is where the script sends the browser. */
  pageSessionEnded: (location: string): AppError =>
    new AppError({ status: 401, code: 'session_ended', detail: 'Your session has ended. Sign in again.', extra: { location } }),
  /** A form post without its page's CSRF token (@fastify/csrf-protection's refusals). */
  formExpired: (): AppError => refuse(403, 'form_expired', 'This form has expired. Go back, reload the page and try again.'),
  passkeyResponseUnreadable: (): AppError => refuse(400, 'passkey_response_unreadable', 'The passkey response could not be read. Try again.'),
  /** A new passkey's name the API's rule refuses (`reason` from the shared form check). */
  passkeyNameRefused: (reason: string): AppError =>
    new AppError({ status: 400, code: 'validation_failed', detail: `Name: ${reason}`, extra: { field: 'name' } }),
} as const;

// The one error type of the service, and the catalogue of every error a client can see.
// Domain code throws `Errors.<name>()`; the error plugin (src/plugins/errors.ts) is the only
// place that turns errors into HTTP replies.

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    /** FastAPI-shaped `detail`: a message, or an object such as {error: 'use_oauth_provider'}. */
    readonly detail: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.name = 'AppError';
  }

  /** The stable snake_case code sent beside `detail` (contract: "Errors: stable codes"). */
  declare code?: string;
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
    super(statusCode, detail);
    this.name = 'ScimError';
  }
}

/** Gives a catalogue entry its stable code. */
const coded = (error: AppError, code: string): AppError => Object.assign(error, { code });

/** Whether `err` is the catalogue error `entry` makes (e.g. `isCatalogued(err, Errors.inviteNotFound)`). */
export function isCatalogued(err: unknown, entry: () => AppError): err is AppError {
  if (!(err instanceof AppError)) return false;
  const expected = entry();
  return err.statusCode === expected.statusCode && err.message === expected.message;
}

/** A 422 in FastAPI's request-validation shape, for rules JSON schema cannot express. */
export const validationError = (loc: Array<string | number>, msg: string, type = 'value_error'): AppError =>
  new AppError(422, [{ loc, msg, type }]);

/**
 * The error catalogue: every message a client can see, defined once and referenced by name.
 * The messages are the contract's exact strings (../shared/API.md): clients match on them, so
 * a message never changes; a new situation gets a new entry. Request-validation issues (422,
 * FastAPI's `loc`/`msg`/`type` list) are built by `validationError` or the schema layer.
 */
export const Errors = {
  // Credentials and sessions
  credentials: (): AppError => new AppError(401, 'Could not validate credentials', { 'WWW-Authenticate': 'Bearer' }),
  incorrectEmailOrPassword: (): AppError => new AppError(401, 'Incorrect email or password', { 'WWW-Authenticate': 'Bearer' }),
  inactiveUser: (): AppError => new AppError(403, 'Inactive user'),
  notEnoughPermissions: (): AppError => new AppError(403, 'Not enough permissions'),
  invalidRefreshToken: (): AppError => new AppError(401, 'Invalid refresh token'),
  refreshTokenRevoked: (): AppError => new AppError(401, 'Refresh token has been revoked'),
  refreshUserNotFound: (): AppError => new AppError(401, 'User not found'),
  sessionNotFound: (): AppError => new AppError(404, 'Session not found'),
  currentPasswordIncorrect: (): AppError => new AppError(401, 'Current password is incorrect'),
  currentPasswordRequired: (): AppError => new AppError(400, 'Current password is required'),
  currentPasswordRequiredForEmail: (): AppError => new AppError(400, 'Current password is required to change email'),
  newPasswordSameAsCurrent: (): AppError => new AppError(400, 'New password must be different from current password'),
  // Registration and invites
  emailAlreadyRegistered: (): AppError => new AppError(400, 'Email already registered'),
  inviteCodeRequired: (): AppError => new AppError(400, 'Invite code is required'),
  invalidInviteCode: (): AppError => new AppError(400, 'Invalid invite code'),
  inviteCodeUsed: (): AppError => new AppError(400, 'Invite code has already been used'),
  inviteCodeExpired: (): AppError => new AppError(400, 'Invite code has expired'),
  invalidAccountInviteCode: (): AppError => new AppError(400, 'Invalid account invite code'),
  accountInviteCodeUsed: (): AppError => new AppError(400, 'Account invite code has already been used'),
  accountInviteCodeExpired: (): AppError => new AppError(400, 'Account invite code has expired'),
  inviteEmailMismatch: (): AppError => new AppError(400, { error: 'invite_email_mismatch' }),
  // Passwords and email verification
  invalidOrExpiredResetToken: (): AppError => new AppError(400, 'Invalid or expired reset token'),
  invalidResetToken: (): AppError => new AppError(400, 'Invalid reset token'),
  resetTokenSpent: (): AppError => new AppError(400, 'Reset token has already been used or has expired'),
  verificationDisabled: (): AppError => new AppError(403, 'Email verification is currently disabled'),
  emailAlreadyVerified: (): AppError => new AppError(400, 'Email is already verified'),
  verificationTokenRequired: (): AppError => new AppError(400, 'Token is required'),
  invalidOrExpiredVerificationToken: (): AppError => new AppError(400, 'Invalid or expired verification token'),
  invalidVerificationToken: (): AppError => new AppError(400, 'Invalid verification token'),
  verificationTokenSpent: (): AppError => new AppError(400, 'Verification token has already been used or has expired'),
  // OAuth sign-in
  providerNotConfigured: (): AppError => new AppError(404, 'Provider not configured'),
  invalidRedirectUri: (): AppError => new AppError(400, 'Invalid redirect_uri'),
  invalidOAuthState: (): AppError => new AppError(400, 'Invalid OAuth state'),
  oauthSignInFailed: (): AppError => new AppError(400, 'OAuth sign-in failed'),
  oauthProviderUnavailable: (): AppError => new AppError(503, 'OAuth provider unavailable', { 'Retry-After': '30' }),
  oauthNoEmail: (): AppError => new AppError(400, 'OAuth provider did not share an email address'),
  accountExistsUnverifiedEmail: (): AppError => new AppError(409, { error: 'account_exists_unverified_email' }),
  // Accounts and administration
  accountNotFound: (): AppError => new AppError(404, 'Account not found'),
  userNotFound: (): AppError => new AppError(404, 'User not found'),
  inviteNotFound: (): AppError => new AppError(404, 'Invite not found'),
  settingNotFound: (): AppError => new AppError(404, 'Setting not found'),
  webhookNotFound: (): AppError => new AppError(404, 'Webhook not found'),
  signingKeyNotFound: (): AppError => new AppError(404, 'Signing key not found'),
  alreadyAMember: (): AppError => new AppError(400, 'This email address already belongs to a member of this account'),
  ownerCannotBeDemoted: (): AppError => new AppError(400, 'The account owner cannot be demoted'),
  ownerCannotBeRemoved: (): AppError => new AppError(400, 'The account owner cannot be removed'),
  cannotChangeOwnRole: (): AppError => new AppError(400, 'You cannot change your own account role'),
  cannotRemoveSelf: (): AppError => new AppError(400, 'You cannot remove yourself from the account'),
  cannotDeactivateSelf: (): AppError => new AppError(400, 'You cannot deactivate your own account'),
  cannotRemoveOwnAdminRole: (): AppError => new AppError(400, 'You cannot remove your own admin role'),
  /** 409 for deleting the owner of an account that still has other members. */
  transferOwnershipFirst: (): AppError => new AppError(409, { error: 'transfer_ownership_first' }),
  // Multi-factor authentication and passkeys
  mfaAlreadyEnabled: (): AppError => new AppError(400, 'MFA is already enabled'),
  mfaNotEnabled: (): AppError => new AppError(400, 'MFA is not enabled'),
  mfaSetupNotStarted: (): AppError => new AppError(400, 'MFA setup has not been started'),
  invalidMfaCode: (): AppError => new AppError(400, 'Invalid MFA code'),
  /** At POST /auth/mfa/verify the same message is a 401 (the sign-in failed). */
  mfaSignInCodeRejected: (): AppError => new AppError(401, 'Invalid MFA code'),
  invalidOrExpiredMfaToken: (): AppError => new AppError(401, 'Invalid or expired MFA token'),
  passkeySignInFailed: (): AppError => new AppError(401, 'Passkey sign-in failed'),
  passkeyRegistrationFailed: (): AppError => new AppError(400, 'Passkey registration failed'),
  passkeyNotFound: (): AppError => new AppError(404, 'Passkey not found'),
  // SCIM provisioning (modules/scim). The SCIM errors' `detail` names the rule, never echoes input.
  scimTokenNotFound: (): AppError => coded(new AppError(404, 'SCIM token not found'), 'scim_token_not_found'),
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
  domainNotFound: (): AppError => coded(new AppError(404, 'Domain not found'), 'domain_not_found'),
  domainTaken: (): AppError => coded(new AppError(409, 'Domain is verified by another account'), 'domain_taken'),
  domainNotAllowed: (): AppError => coded(new AppError(422, 'Public-suffix and shared mail domains cannot be claimed'), 'domain_not_allowed'),
  domainVerificationFailed: (): AppError =>
    coded(new AppError(400, 'Domain verification failed: the TXT record was not found'), 'domain_verification_failed'),
  ssoConnectionNotFound: (): AppError => coded(new AppError(404, 'SSO connection not found'), 'sso_connection_not_found'),
  ssoConnectionInvalid: (): AppError => coded(new AppError(400, 'SSO connection settings are not usable'), 'sso_connection_invalid'),
  ssoNotConfigured: (): AppError => coded(new AppError(404, 'SSO is not configured for this email domain'), 'sso_not_configured'),
  /** Every refused identity-provider response, whatever was wrong with it (the reason is audited). */
  ssoFailed: (): AppError => coded(new AppError(400, 'SSO sign-in failed'), 'sso_failed'),
  invalidSsoCode: (): AppError => coded(new AppError(400, 'Invalid or expired SSO code'), 'invalid_sso_code'),
  ssoDomainNotVerified: (): AppError =>
    coded(new AppError(403, "The identity's email is not on one of the account's verified domains"), 'sso_domain_not_verified'),
  ssoNotAMember: (): AppError => coded(new AppError(403, 'Not a member of this account: ask for an invitation'), 'sso_not_a_member'),
  /** 403 for a person whose email domain's account enforces SSO, at any other sign-in. */
  ssoRequired: (connectionId: string | null): AppError =>
    coded(new AppError(403, { error: 'sso_required', connection_id: connectionId }), 'sso_required'),
  ssoTransferOwnershipFirst: (): AppError => coded(new AppError(409, { error: 'transfer_ownership_first' }), 'transfer_ownership_first'),
  // HTTP
  unsupportedMediaType: (): AppError => new AppError(415, 'Unsupported media type'),
  bodyTooLarge: (): AppError => new AppError(413, 'Request body too large'),
  serviceUnavailable: (): AppError => new AppError(503, 'Service unavailable', { 'Retry-After': '5' }),
  internal: (): AppError => new AppError(500, 'Internal server error'),
  /** 400 for a user who has no password: sign in through one of these providers. */
  useOAuthProvider: (providers: string[]): AppError => new AppError(400, { error: 'use_oauth_provider', providers }),
  rateLimitExceeded: (max: number, retryAfterSeconds: number): AppError =>
    new AppError(429, `Rate limit exceeded: ${max} per 1 minute`, { 'Retry-After': String(retryAfterSeconds) }),
} as const;

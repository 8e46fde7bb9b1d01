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
}

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
  oauthClientNotFound: (): AppError => new AppError(404, 'OAuth client not found'),
  appNotFound: (): AppError => new AppError(404, 'App not found'),
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

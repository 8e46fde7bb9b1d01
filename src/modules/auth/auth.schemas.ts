import { Type, type Static } from '@sinclair/typebox';
import { Email, FreeText, NewPassword, Nullable, PresentedPassword } from '../../http/schema-types.js';

const Code = Type.String({ maxLength: 128 });
// A person's name is shown to others (member lists, the account name in invitation emails).
const PersonName = FreeText({ minLength: 1, maxLength: 200, pattern: '\\S' });

export const RegisterBody = Type.Object({
  email: Email,
  password: NewPassword,
  name: PersonName,
  invite_code: Type.Optional(Nullable(Code)),
  account_invite_code: Type.Optional(Nullable(Code)),
});
export type RegisterBody = Static<typeof RegisterBody>;

// The failed-login audit row keeps the username when it is a valid email; the other OAuth2
// form fields are not used, but nothing legitimate puts control characters in them either.
// client_secret is a secret, like the password: anything goes.
export const LoginForm = Type.Object({
  username: FreeText({ maxLength: 254 }),
  password: PresentedPassword,
  grant_type: Type.Optional(FreeText({ maxLength: 64 })),
  scope: Type.Optional(FreeText({ maxLength: 1024 })),
  client_id: Type.Optional(FreeText({ maxLength: 256 })),
  client_secret: Type.Optional(Type.String({ maxLength: 256 })),
});
export type LoginForm = Static<typeof LoginForm>;

export const LoginJsonBody = Type.Object({ email: Email, password: PresentedPassword });
export type LoginJsonBody = Static<typeof LoginJsonBody>;

export const RefreshTokenBody = Type.Object({ refresh_token: Type.String({ maxLength: 4096 }) });
export type RefreshTokenBody = Static<typeof RefreshTokenBody>;

export const TokenResponse = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('bearer'),
    must_change_password: Type.Boolean(),
  },
  { $id: 'Token' },
);

/** An MFA-enrolled user's first factor passed: redeem mfa_token at POST /auth/mfa/verify. */
export const MfaChallengeResponse = Type.Object(
  {
    mfa_required: Type.Literal(true),
    mfa_token: Type.String(),
    methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')])),
  },
  { $id: 'MfaChallenge' },
);

/** What a sign-in answers: tokens, or the MFA challenge. */
export const SignInResponse = Type.Union([TokenResponse, MfaChallengeResponse]);

export const UpdateProfileBody = Type.Object({
  name: Type.Optional(Nullable(PersonName)),
  email: Type.Optional(Email),
  current_password: Type.Optional(Nullable(PresentedPassword)),
  phone: Type.Optional(Nullable(FreeText({ maxLength: 50 }))),
  job_title: Type.Optional(Nullable(FreeText({ maxLength: 200 }))),
  timezone: Type.Optional(Nullable(FreeText({ maxLength: 64 }))),
});
export type UpdateProfileBody = Static<typeof UpdateProfileBody>;

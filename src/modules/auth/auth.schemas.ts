import { Type, type Static } from '@sinclair/typebox';
import { Email, NewPassword, Nullable, PresentedPassword } from '../../http/schema-types.js';

const Code = Type.String({ maxLength: 128 });

export const RegisterBody = Type.Object({
  email: Email,
  password: NewPassword,
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  invite_code: Type.Optional(Nullable(Code)),
  account_invite_code: Type.Optional(Nullable(Code)),
});
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginForm = Type.Object({
  username: Type.String({ maxLength: 254 }),
  password: PresentedPassword,
  grant_type: Type.Optional(Type.String({ maxLength: 64 })),
  scope: Type.Optional(Type.String({ maxLength: 1024 })),
  client_id: Type.Optional(Type.String({ maxLength: 256 })),
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

export const UpdateProfileBody = Type.Object({
  name: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }))),
  email: Type.Optional(Email),
  current_password: Type.Optional(Nullable(PresentedPassword)),
  phone: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
  job_title: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  timezone: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
});
export type UpdateProfileBody = Static<typeof UpdateProfileBody>;

import { Type, type Static } from '@sinclair/typebox';
import { Email, NewPassword, PresentedPassword } from '../../http/schema-types.js';

// A JWT is a few hundred characters; anything longer is refused before it is parsed.
const PresentedToken = Type.String({ maxLength: 4096 });

export const ChangePasswordBody = Type.Object({ current_password: PresentedPassword, new_password: NewPassword });
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const ForgotPasswordBody = Type.Object({ email: Email });
export type ForgotPasswordBody = Static<typeof ForgotPasswordBody>;

export const VerifyResetTokenBody = Type.Object({ token: PresentedToken });
export type VerifyResetTokenBody = Static<typeof VerifyResetTokenBody>;

export const VerifyResetTokenResponse = Type.Object({ valid: Type.Boolean(), email: Type.Optional(Type.String()) });
export type VerifyResetTokenResponse = Static<typeof VerifyResetTokenResponse>;

export const ResetPasswordBody = Type.Object({ token: PresentedToken, new_password: NewPassword });
export type ResetPasswordBody = Static<typeof ResetPasswordBody>;

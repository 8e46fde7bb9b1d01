import { Type, type Static } from '@sinclair/typebox';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { WebAuthnCredentialJson, WebAuthnOptions } from '../mfa/mfa.schemas.js';

const PasskeyName = FreeText({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const PasskeyResponse = Type.Object(
  { id: Uuid, name: Type.String(), created_at: DateTime, last_used_at: Nullable(DateTime) },
  { $id: 'Passkey' },
);

export const PasskeyParams = Type.Object({ id: Uuid });
/** Adding or removing a passkey of an MFA-enrolled user from an aal1 session: a fresh code. */
export const FactorChangeBody = Type.Object({
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A TOTP or recovery code: needed when MFA is on and the session is not aal2' })),
});
export type FactorChangeBody = Static<typeof FactorChangeBody>;
export const RegisterPasskeyBody = Type.Object({ response: WebAuthnCredentialJson, name: Type.Optional(Nullable(PasskeyName)) });
export const RenamePasskeyBody = Type.Object({ name: PasskeyName });
export const PasskeyLoginOptionsResponse = Type.Object({ challenge_id: Uuid, options: WebAuthnOptions });
export const PasskeyLoginBody = Type.Object({ challenge_id: Uuid, response: WebAuthnCredentialJson });
export { WebAuthnOptions };

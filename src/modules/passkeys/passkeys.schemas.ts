import { Type } from '@sinclair/typebox';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { WebAuthnCredentialJson, WebAuthnOptions } from '../mfa/mfa.schemas.js';

const PasskeyName = FreeText({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const PasskeyResponse = Type.Object(
  { id: Uuid, name: Type.String(), created_at: DateTime, last_used_at: Nullable(DateTime) },
  { $id: 'Passkey' },
);

export const PasskeyParams = Type.Object({ id: Uuid });
export const RegisterPasskeyBody = Type.Object({ response: WebAuthnCredentialJson, name: Type.Optional(Nullable(PasskeyName)) });
export const RenamePasskeyBody = Type.Object({ name: PasskeyName });
export const PasskeyLoginOptionsResponse = Type.Object({ challenge_id: Uuid, options: WebAuthnOptions });
export const PasskeyLoginBody = Type.Object({ challenge_id: Uuid, response: WebAuthnCredentialJson });
export { WebAuthnOptions };

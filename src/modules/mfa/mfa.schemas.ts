import { Type, type Static } from '@sinclair/typebox';

/** A TOTP code (six digits) or, where the contract allows it, a recovery code. */
export const MfaCode = Type.String({ minLength: 1, maxLength: 64 });

export const CodeBody = Type.Object({ code: MfaCode });
export type CodeBody = Static<typeof CodeBody>;

export const TotpSetupResponse = Type.Object({ secret: Type.String(), otpauth_url: Type.String() });
export const RecoveryCodesResponse = Type.Object({ recovery_codes: Type.Array(Type.String()) });

/** A WebAuthn credential in its JSON form (RegistrationResponseJSON / AuthenticationResponseJSON);
 *  @simplewebauthn/server checks the rest. */
export const WebAuthnCredentialJson = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 1024 }),
    rawId: Type.String({ minLength: 1, maxLength: 1024 }),
    type: Type.Literal('public-key'),
    response: Type.Object({ clientDataJSON: Type.String({ maxLength: 8192 }) }, { additionalProperties: true }),
    clientExtensionResults: Type.Optional(Type.Object({}, { additionalProperties: true })),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);

/** WebAuthn options (PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON), passed to
 *  the browser as they are. */
export const WebAuthnOptions = Type.Object({ challenge: Type.String() }, { additionalProperties: true });

export const MfaVerifyBody = Type.Object({
  mfa_token: Type.String({ minLength: 1, maxLength: 256 }),
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
  recovery_code: Type.Optional(MfaCode),
  passkey_response: Type.Optional(WebAuthnCredentialJson),
});
export type MfaVerifyBody = Static<typeof MfaVerifyBody>;

export const MfaTokenBody = Type.Object({ mfa_token: Type.String({ minLength: 1, maxLength: 256 }) });
export const MfaPasskeyOptionsResponse = Type.Object({ options: WebAuthnOptions });

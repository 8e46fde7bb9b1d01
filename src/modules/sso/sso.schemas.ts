import { Type, type Static } from '@sinclair/typebox';
import { Uuid } from '../../http/schema-types.js';

export const StartBody = Type.Object({
  email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
  connection_id: Type.Optional(Uuid),
  redirect_uri: Type.String({ minLength: 1, maxLength: 2048, description: 'One of OAUTH_REDIRECT_URIS, exactly' }),
}, { additionalProperties: false });
export type StartBody = Static<typeof StartBody>;

export const StartResponse = Type.Object({
  authorization_url: Type.String(),
  state: Type.String({ description: 'Comes back on redirect_uri with the code; send both to /auth/sso/callback' }),
});

export const AcsBody = Type.Object({
  SAMLResponse: Type.String({ minLength: 1, maxLength: 262_144 }),
  RelayState: Type.Optional(Type.String({ maxLength: 1024 })),
});

export const OidcCallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  state: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  iss: Type.Optional(Type.String({ maxLength: 2048 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
});

export const SsoCallbackBody = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 256 }),
  state: Type.String({ minLength: 1, maxLength: 512 }),
}, { additionalProperties: false });

export const ConnectionIdParams = Type.Object({ id: Uuid });

// Response shapes of the well-known documents. The JWK lists only public members, so even a
// row holding more could never put a private part (d, p, q, …) into a reply.
import { Type } from '@sinclair/typebox';

export const PublicJwkSchema = Type.Object(
  {
    kty: Type.String({ description: 'EC, OKP or RSA' }),
    kid: Type.String({ description: 'RFC 7638 thumbprint; every token header names one' }),
    alg: Type.Union([Type.Literal('ES256'), Type.Literal('EdDSA'), Type.Literal('RS256')]),
    use: Type.Literal('sig'),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const JwksSchema = Type.Object({ keys: Type.Array(PublicJwkSchema) }, { additionalProperties: false });

export const OpenIdConfigurationSchema = Type.Object(
  {
    issuer: Type.String({ description: 'JWT_ISSUER: the iss of every token' }),
    jwks_uri: Type.String(),
    token_endpoint: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    subject_types_supported: Type.Array(Type.String()),
    id_token_signing_alg_values_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

import { Type, type Static } from '@sinclair/typebox';
import { Nullable } from '../../http/schema-types.js';

const url = (description?: string) => Type.String({ minLength: 1, maxLength: 2048, description });
const InviteCode = Type.String({ maxLength: 128 });

export const ProviderParams = Type.Object({
  provider: Type.String({ maxLength: 64, description: '`google`, `microsoft` or a configured OIDC provider name' }),
});
export type ProviderParams = Static<typeof ProviderParams>;

export const AuthorizeQuery = Type.Object({
  redirect_uri: url('One of OAUTH_REDIRECT_URIS, exactly'),
});
export type AuthorizeQuery = Static<typeof AuthorizeQuery>;

export const AuthorizeResponse = Type.Object({
  authorization_url: Type.String(),
  state: Type.String({ description: 'Check it against the `state` the provider redirects back with' }),
});
export type AuthorizeResponse = Static<typeof AuthorizeResponse>;

export const CallbackBody = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 4096 }),
  state: Type.String({ minLength: 1, maxLength: 512 }),
  redirect_uri: url('The redirect_uri given to /authorize'),
  iss: Type.Optional(url("The authorization response's `iss` (RFC 9207), when sent")),
  invite_code: Type.Optional(Nullable(InviteCode)),
  account_invite_code: Type.Optional(Nullable(InviteCode)),
});
export type CallbackBody = Static<typeof CallbackBody>;

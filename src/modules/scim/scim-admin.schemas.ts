// /accounts/me/scim-tokens and /accounts/me/scim-settings: request and response schemas.
import { Type, type Static } from '@sinclair/typebox';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import type { ScimTokenRow } from './scim-tokens.repo.js';

export const CreateScimTokenBody = Type.Object(
  { description: Type.Optional(FreeText({ maxLength: 200, description: 'What the token is for (e.g. "Entra ID")' })) },
  { additionalProperties: false },
);

export const ScimTokenResponse = Type.Object({
  id: Uuid,
  description: Nullable(Type.String()),
  created_at: DateTime,
  last_used_at: Nullable(DateTime),
});
export type ScimTokenResponse = Static<typeof ScimTokenResponse>;

export const CreatedScimTokenResponse = Type.Object({
  id: Uuid,
  token: Type.String({ description: 'The bearer token for /scim/v2: shown only here' }),
  description: Nullable(Type.String()),
  created_at: DateTime,
});

export const ScimTokenParams = Type.Object({ id: Uuid });

const Role = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
export const ScimSettings = Type.Object(
  {
    group_roles: Type.Record(FreeText({ minLength: 1, maxLength: 256 }), Role, {
      description: 'Group displayName → account role; the highest mapped role wins, no mapped group: member',
      maxProperties: 1000,
    }),
  },
  { additionalProperties: false },
);

export function toScimTokenResponse(row: ScimTokenRow): ScimTokenResponse {
  return {
    id: row.id,
    description: row.description,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
  };
}

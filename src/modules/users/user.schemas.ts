import { Type, type Static } from '@sinclair/typebox';
import { DateTime, Nullable, Uuid } from '../../http/schema-types.js';
import type { UserRow } from '../../db/schema.js';

// The response schema is the allow-list of what a client may see of a user: the
// serializer drops every other field, so a hash can never slip into a reply.
export const UserResponse = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    name: Type.String(),
    role: Type.Union([Type.Literal('engineer'), Type.Literal('admin')]),
    account_id: Uuid,
    account_role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
    is_active: Type.Boolean(),
    email_verified_at: Nullable(DateTime),
    must_change_password: Type.Boolean(),
    has_password: Type.Boolean(),
    phone: Nullable(Type.String()),
    job_title: Nullable(Type.String()),
    timezone: Nullable(Type.String()),
    last_login: Nullable(DateTime),
    created_at: DateTime,
    mfa_enabled: Type.Boolean(),
  },
  { $id: 'UserResponse' },
);
export type UserResponse = Static<typeof UserResponse>;

export function toUserResponse(user: UserRow): UserResponse {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    account_id: user.account_id,
    account_role: user.account_role,
    is_active: user.is_active,
    email_verified_at: user.email_verified_at?.toISOString() ?? null,
    must_change_password: user.must_change_password,
    has_password: user.password_hash !== null,
    phone: user.phone,
    job_title: user.job_title,
    timezone: user.timezone,
    last_login: user.last_login?.toISOString() ?? null,
    created_at: user.created_at.toISOString(),
    mfa_enabled: user.mfa_enabled,
  };
}

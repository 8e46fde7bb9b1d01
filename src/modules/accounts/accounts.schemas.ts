import { Type, type Static } from '@sinclair/typebox';
import type { AccountInviteRow } from '../../db/schema.js';
import { DateTime, Email, Nullable, Uuid } from '../../http/schema-types.js';
import type { AccountWithSubscription } from './accounts.repo.js';

export const AccountResponse = Type.Object({
  id: Uuid,
  name: Type.String(),
  display_code: Type.String(),
  owner_id: Nullable(Uuid),
  created_at: DateTime,
  subscription: Nullable(
    Type.Object({
      plan: Type.String(),
      status: Type.String(),
      current_period_start: Nullable(DateTime),
      current_period_end: Nullable(DateTime),
    }),
  ),
});
export type AccountResponse = Static<typeof AccountResponse>;

export function toAccountResponse(account: AccountWithSubscription): AccountResponse {
  return {
    id: account.id,
    name: account.name,
    display_code: account.display_code,
    owner_id: account.owner_id,
    created_at: account.created_at.toISOString(),
    subscription:
      account.plan === null || account.status === null
        ? null
        : {
            plan: account.plan,
            status: account.status,
            current_period_start: account.current_period_start?.toISOString() ?? null,
            current_period_end: account.current_period_end?.toISOString() ?? null,
          },
  };
}

const AssignableRole = Type.Union([Type.Literal('admin'), Type.Literal('member')], {
  description: 'The owner role is not assignable: an account has exactly one owner',
});

export const MemberParams = Type.Object({ user_id: Uuid });
export const ChangeMemberRoleBody = Type.Object({ account_role: AssignableRole });

export const InviteParams = Type.Object({ id: Uuid });
export const CreateInviteBody = Type.Object({ email: Email, role: AssignableRole });

export const AccountInviteResponse = Type.Object({
  id: Uuid,
  code: Type.String(),
  email: Type.String(),
  role: AssignableRole,
  expires_at: DateTime,
  created_at: DateTime,
});
export type AccountInviteResponse = Static<typeof AccountInviteResponse>;

export const toAccountInviteResponse = (invite: AccountInviteRow): AccountInviteResponse => ({
  id: invite.id,
  code: invite.code,
  email: invite.email,
  role: invite.role,
  expires_at: invite.expires_at.toISOString(),
  created_at: invite.created_at.toISOString(),
});

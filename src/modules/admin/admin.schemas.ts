import { Type, type Static } from '@sinclair/typebox';
import type { InviteCodeRow } from '../../db/schema.js';
import { DateTime, FreeText, Nullable, Uuid } from '../../http/schema-types.js';
import { INVITE_CODE_RULES } from '../invites/invite-codes.service.js';
import { QueryInteger } from '../../http/request-params.js';

export const CreateInviteCodesBody = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: INVITE_CODE_RULES.maxCount, default: 1 })),
  assigned_plan: Type.Optional(Nullable(Type.String({ pattern: INVITE_CODE_RULES.planPattern }))),
  trial_duration_days: Type.Optional(
    Nullable(Type.Integer({ minimum: 1, maximum: INVITE_CODE_RULES.maxTrialDays, description: 'Needs assigned_plan' })),
  ),
  expires_at: Type.Optional(Nullable(DateTime)),
});

export const InviteCodeResponse = Type.Object({
  id: Uuid,
  code: Type.String(),
  assigned_plan: Nullable(Type.String()),
  trial_duration_days: Nullable(Type.Integer()),
  expires_at: Nullable(DateTime),
  used_at: Nullable(DateTime),
  used_by_id: Nullable(Uuid),
  used_by_email: Nullable(Type.String()),
  created_at: DateTime,
});
export type InviteCodeResponse = Static<typeof InviteCodeResponse>;

export const toInviteCodeResponse = (code: InviteCodeRow & { used_by_email?: string | null }): InviteCodeResponse => ({
  id: code.id,
  code: code.code,
  assigned_plan: code.assigned_plan,
  trial_duration_days: code.trial_duration_days,
  expires_at: code.expires_at?.toISOString() ?? null,
  used_at: code.used_at?.toISOString() ?? null,
  used_by_id: code.used_by_id,
  used_by_email: code.used_by_email ?? null,
  created_at: code.created_at.toISOString(),
});

export const SettingsResponse = Type.Record(Type.String(), Type.Unknown());
export const SettingParams = Type.Object({ key: FreeText({ maxLength: 100 }) });
export const SettingBody = Type.Object({ value: Type.Unknown() });
export const SettingResponse = Type.Object({ key: Type.String(), value: Type.Unknown() });

export const UsersQuery = Type.Object({
  q: Type.Optional(FreeText({ maxLength: 254, description: 'Matches anywhere in the email or name' })),
  limit: Type.Optional(QueryInteger),
  offset: Type.Optional(QueryInteger),
});
export const UpdateUserBody = Type.Object({
  is_active: Type.Optional(Type.Boolean()),
  role: Type.Optional(Type.Union([Type.Literal('engineer'), Type.Literal('admin')])),
});

export const AuditLogsQuery = Type.Object({
  user_id: Type.Optional(Uuid),
  action: Type.Optional(FreeText({ maxLength: 100 })),
  limit: Type.Optional(QueryInteger),
  before: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'The id of the last row seen: the next page' })),
  since: Type.Optional(DateTime),
  until: Type.Optional(DateTime),
});

import { Type, type Static } from '@sinclair/typebox';
import { DateTime, Nullable, PresentedPassword, Uuid } from '../../http/schema-types.js';
import { AuditLogResponse } from '../audit/audit.schemas.js';
import { SessionResponse } from '../sessions/sessions.schemas.js';
import { UserResponse } from '../users/user.schemas.js';
import { AccountResponse } from '../accounts/accounts.schemas.js';

export const DeleteMeBody = Type.Object({
  password: Type.Optional(PresentedPassword),
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A TOTP or recovery code, when MFA is on' })),
});
export type DeleteMeBody = Static<typeof DeleteMeBody>;

export const TransferOwnershipBody = Type.Object({ user_id: Uuid });

const { current: _current, ...sessionFields } = SessionResponse.properties;

// The export is an allow-list like every reply: a field not named here cannot leave.
export const DataExportResponse = Type.Object({
  user: UserResponse,
  account: Type.Object({ ...AccountResponse.properties, account_role: UserResponse.properties.account_role }),
  sessions: Type.Array(Type.Object({ ...sessionFields, revoked_at: Nullable(DateTime) })),
  identities: Type.Array(Type.Object({ provider: Type.String(), subject: Type.String(), email: Nullable(Type.String()), created_at: DateTime })),
  passkeys: Type.Array(Type.Object({ id: Uuid, name: Type.String(), created_at: DateTime, last_used_at: Nullable(DateTime) })),
  audit_events: Type.Array(AuditLogResponse),
});
export type DataExportResponse = Static<typeof DataExportResponse>;
export type ExportedPasskey = DataExportResponse['passkeys'][number];

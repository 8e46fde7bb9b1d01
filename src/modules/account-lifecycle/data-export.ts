// GET /auth/me/export: what Keyhold holds about the caller, as one JSON document. Built field by
// field into DataExportResponse, whose schema is the allow-list: no hash or secret can leave.
// It reads every module that holds the user's data, so it sits at the top (account-lifecycle).
import type { AppContext, RequestMeta } from '../../context.js';
import type { UserRow } from '../../db/schema.js';
import { Errors } from '../../lib/errors.js';
import { toAuditLogResponse } from '../audit/audit.schemas.js';
import { listUserAuditLogs } from '../audit/audit-logs.repo.js';
import { recordAudit } from '../audit/audit.repo.js';
import { listIdentities } from '../oauth/oauth.repo.js';
import { listAllSessions } from '../sessions/device-sessions.repo.js';
import { toSessionResponse } from '../sessions/sessions.schemas.js';
import { toUserResponse } from '../users/user.schemas.js';
import { findAccountWithSubscription } from '../accounts/accounts.repo.js';
import { toAccountResponse } from '../accounts/accounts.schemas.js';
import type { DataExportResponse, ExportedPasskey } from './lifecycle.schemas.js';
import { listPasskeys } from '../passkeys/passkeys.repo.js';

export async function exportUserData(ctx: Pick<AppContext, 'db'>, user: UserRow, meta: RequestMeta): Promise<DataExportResponse> {
  // Read in one transaction: one consistent picture, and the export's own audit row with it.
  return ctx.db.transaction().execute(async (trx) => {
    const account = await findAccountWithSubscription(trx, user.account_id);
    if (!account) throw Errors.accountNotFound();
    const sessions = await listAllSessions(trx, user.id);
    const identities = await listIdentities(trx, user.id);
    // Names and dates only: never a credential id or public key.
    const passkeys: ExportedPasskey[] = (await listPasskeys(trx, user.id)).map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      created_at: passkey.created_at.toISOString(),
      last_used_at: passkey.last_used_at?.toISOString() ?? null,
    }));
    const auditEvents = await listUserAuditLogs(trx, user.id);
    await recordAudit(trx, meta, { action: 'auth.data_exported', userId: user.id, resourceType: 'user', resourceId: user.id });
    return {
      user: toUserResponse(user),
      account: { ...toAccountResponse(account), account_role: user.account_role },
      sessions: sessions.map((session) => {
        const { current: _current, ...listed } = toSessionResponse(session, null);
        return { ...listed, revoked_at: session.revoked_at?.toISOString() ?? null };
      }),
      identities: identities.map((identity) => ({ ...identity, created_at: identity.created_at.toISOString() })),
      passkeys,
      audit_events: auditEvents.map(toAuditLogResponse),
    };
  });
}

// `keyhold export`: every user as one line of the import format, hashes included (the
// operator's own data), so the file imports into an empty Keyhold and everyone signs in with
// the same password. Read in pages inside one REPEATABLE READ transaction: a consistent
// snapshot even while a server on the same PostgreSQL keeps writing.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AppContext } from '../../context.js';
import type { ImportLineJson } from './import-line.js';
import { exportIdentities, exportUsersPage, type ExportUserRow } from './import-export.repo.js';

const PAGE_SIZE = 1000;

export async function exportUsers(ctx: Pick<AppContext, 'db'>, output: Writable, onProgress?: (users: number) => void): Promise<{ users: number }> {
  let users = 0;
  await ctx.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      let afterId: string | null = null;
      for (;;) {
        const page = await exportUsersPage(trx, afterId, PAGE_SIZE);
        if (page.length === 0) break;
        const identities = await exportIdentities(trx, page.map((row) => row.id));
        const byUser = new Map<string, ImportLineJson['oauth']>();
        for (const identity of identities) {
          const list = byUser.get(identity.user_id) ?? [];
          list.push({ provider: identity.provider, subject: identity.subject, ...(identity.email ? { email: identity.email } : {}) });
          byUser.set(identity.user_id, list);
        }
        const text = page.map((row) => `${JSON.stringify(toLine(row, byUser.get(row.id)))}\n`).join('');
        if (!output.write(text)) await once(output, 'drain');
        users += page.length;
        afterId = page[page.length - 1]!.id;
        onProgress?.(users);
      }
    });
  return { users };
}

function toLine(row: ExportUserRow, oauth: ImportLineJson['oauth'] | undefined): ImportLineJson {
  return {
    email: row.email,
    name: row.name,
    ...(row.password_hash ? { password_hash: row.password_hash } : {}),
    ...(row.email_verified_at ? { email_verified: row.email_verified_at.toISOString() } : {}),
    role: row.role,
    account: {
      key: row.account_key,
      name: row.account_name,
      ...(row.plan ? { plan: row.plan } : {}),
      ...(row.status ? { status: row.status as 'active' } : {}),
      ...(row.period_end ? { period_end: row.period_end.toISOString() } : {}),
    },
    account_role: row.account_role,
    ...(oauth ? { oauth } : {}),
    created_at: row.created_at.toISOString(),
    ...(row.is_active ? {} : { is_active: false }),
    ...(row.must_change_password ? { must_change_password: true } : {}),
  };
}

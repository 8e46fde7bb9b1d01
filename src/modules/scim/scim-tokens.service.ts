// SCIM bearer tokens and settings, managed by the account's owner or admins under
// /accounts/me. A token is shown once; only its SHA-256 is kept. It acts on its account only.
import { randomUUID } from 'node:crypto';
import type { AppContext, RequestMeta } from '../../context.js';
import type { Executor } from '../../db/database.js';
import type { UserRow } from '../../db/schema.js';
import type { AccountScope } from '../accounts/account-scope.js';
import { Errors } from '../../lib/errors.js';
import { hashSecret, randomToken } from '../../lib/random.js';
import { lockManager, requireAccountManager } from '../accounts/accounts.service.js';
import { recordAudit } from '../audit/audit.repo.js';
import { deriveRoles } from './scim-roles.js';
import { listGroupedUserIds } from './scim.repo.js';
import {
  deleteScimToken,
  findGroupRoles,
  findScimTokenByHash,
  insertScimToken,
  listScimTokens,
  saveGroupRoles,
  touchScimToken,
  type GroupRoles,
  type ScimTokenRow,
} from './scim-tokens.repo.js';
import { inUnitOfWork } from '../../db/unit-of-work.js';

type Deps = Pick<AppContext, 'db' | 'clock' | 'jobs'>;

/** Recognisable in logs and secret scanners; 32 random bytes behind it. */
const TOKEN_PREFIX = 'khscim_';
/** last_used_at is written at most this often per token (not a write per request). */
const TOUCH_EVERY_MS = 60_000;

export interface CreateScimToken {
  actor: UserRow;
  input: { description?: string };
  meta: RequestMeta;
}

export async function createScimToken(ctx: Deps, { actor, input, meta }: CreateScimToken): Promise<ScimTokenRow & { token: string }> {
  requireAccountManager(actor);
  const token = `${TOKEN_PREFIX}${randomToken(32)}`;
  const row = await inUnitOfWork(ctx, async (trx) => {
    await lockManager(trx, actor);
    const created = await insertScimToken(trx, {
      id: randomUUID(),
      accountId: actor.account_id,
      tokenHash: hashSecret(token),
      description: input.description ?? null,
      createdBy: actor.id,
      now: ctx.clock.now(),
    });
    await recordAudit(trx, meta, {
      action: 'scim.token_created',
      userId: actor.id,
      resourceType: 'scim_token',
      resourceId: created.id,
      details: { account_id: actor.account_id },
    });
    return created;
  });
  return { ...row, token };
}

export async function listTokens(ctx: Pick<AppContext, 'db'>, actor: UserRow): Promise<ScimTokenRow[]> {
  requireAccountManager(actor);
  return listScimTokens(ctx.db, actor.account_id);
}

export interface RevokeScimToken {
  actor: UserRow;
  id: string;
  meta: RequestMeta;
}

export async function revokeScimToken(ctx: Deps, { actor, id, meta }: RevokeScimToken): Promise<void> {
  requireAccountManager(actor);
  await inUnitOfWork(ctx, async (trx) => {
    await lockManager(trx, actor);
    await deleteTokenAudited(trx, { scope: { accountId: actor.account_id, actorId: actor.id }, id, meta });
  });
}

/** Any account's tokens, for a platform admin (the console; the scope's account was checked). */
export const listScopedScimTokens = (ctx: Pick<AppContext, 'db'>, scope: AccountScope): Promise<ScimTokenRow[]> => listScimTokens(ctx.db, scope.accountId);

export interface RevokeScopedScimToken {
  scope: AccountScope;
  id: string;
  meta: RequestMeta;
}

/** A platform admin revokes a token of any account (the console): the same row and audit as the owner's revocation. */
export async function revokeScopedScimToken(ctx: Deps, { scope, id, meta }: RevokeScopedScimToken): Promise<void> {
  await inUnitOfWork(ctx, (trx) => deleteTokenAudited(trx, { scope, id, meta }));
}

async function deleteTokenAudited(trx: Executor, { scope, id, meta }: RevokeScopedScimToken): Promise<void> {
  const deleted = await deleteScimToken(trx, scope.accountId, id);
  if (!deleted) throw Errors.scimTokenNotFound();
  await recordAudit(trx, meta, {
    action: 'scim.token_deleted',
    userId: scope.actorId,
    resourceType: 'scim_token',
    resourceId: id,
    details: { account_id: scope.accountId },
  });
}

/** When this process last recorded each token's use: a directory's burst of requests costs one
 *  UPDATE a minute, not one a request (the UPDATE is conditional too, across instances). */
const lastTouched = new Map<string, number>();
const MAX_REMEMBERED_TOKENS = 10_000;

/** The token behind a SCIM request's bearer value, or undefined. */
export async function authenticateScimToken(ctx: Pick<AppContext, 'db' | 'clock'>, bearer: string | null): Promise<ScimTokenRow | undefined> {
  if (!bearer || !bearer.startsWith(TOKEN_PREFIX) || bearer.length > 100) return undefined;
  const token = await findScimTokenByHash(ctx.db, hashSecret(bearer));
  if (!token) return undefined;
  const now = ctx.clock.now();
  if (now.getTime() - (lastTouched.get(token.id) ?? -Infinity) >= TOUCH_EVERY_MS) {
    if (lastTouched.size >= MAX_REMEMBERED_TOKENS) lastTouched.clear();
    lastTouched.set(token.id, now.getTime());
    await touchScimToken(ctx.db, { id: token.id, now, everyMs: TOUCH_EVERY_MS });
  }
  return token;
}

export async function getScimSettings(ctx: Pick<AppContext, 'db'>, actor: UserRow): Promise<{ group_roles: GroupRoles }> {
  requireAccountManager(actor);
  return { group_roles: await findGroupRoles(ctx.db, actor.account_id) };
}

/** Saves the mapping and re-derives the role of every grouped user of the account. */
export interface PutScimSettings {
  actor: UserRow;
  groupRoles: GroupRoles;
  meta: RequestMeta;
}

export async function putScimSettings(ctx: Deps, { actor, groupRoles, meta }: PutScimSettings): Promise<{ group_roles: GroupRoles }> {
  requireAccountManager(actor);
  await inUnitOfWork(ctx, async (trx) => {
    await lockManager(trx, actor);
    await saveGroupRoles(trx, { accountId: actor.account_id, groupRoles, now: ctx.clock.now() });
    await recordAudit(trx, meta, {
      action: 'scim.settings_updated',
      userId: actor.id,
      resourceType: 'account',
      resourceId: actor.account_id,
      details: { account_id: actor.account_id, group_roles: groupRoles },
    });
    const changer = { accountId: actor.account_id, actor: `user:${actor.id}`, actorUserId: actor.id, meta };
    await deriveRoles(ctx, trx, { caller: changer, userIds: await listGroupedUserIds(trx, actor.account_id) });
  });
  return { group_roles: groupRoles };
}

// Rows read ahead for the rest of one provider request (grant-source.repo.ts reads a token with
// its grant, session, user and client in one statement). Nothing outlives the request: the
// memo hangs off the request's own context, and each row is handed out once (a second look-up
// reads the database again, as it did before). A write to a row through the adapter drops what
// was read ahead of it, so the provider never reads back older than what it wrote. Only rows
// that were found are kept: a miss is always asked of the database.
import type { AccountFacts, GrantSourceRows } from './grant-source.repo.js';
import type { OAuthClientRow } from './clients.repo.js';

type Found = NonNullable<GrantSourceRows['token']>;

export const modelKey = (model: string, id: string): string => `model:${model}:${id}`;
export const sessionUidKey = (uid: string): string => `uid:Session:${uid}`;
const clientKey = (clientId: string): string => `client:${clientId}`;
const accountKey = (userId: string): string => `account:${userId}`;

export class RequestReads {
  private readonly rows = new Map<string, unknown>();

  /** Keeps what one bundle found; `token` is the row of `model`/`id`. */
  keep(found: GrantSourceRows, token: { model: string; id: string }): void {
    if (found.client) this.rows.set(clientKey(found.client.client_id), found.client);
    if (!found.token) return;
    this.rows.set(modelKey(token.model, token.id), found.token);
    const { grantId, sessionUid } = found.token.payload as { grantId?: unknown; sessionUid?: unknown };
    if (found.grant && typeof grantId === 'string') this.rows.set(modelKey('Grant', grantId), found.grant);
    if (found.session && typeof sessionUid === 'string') this.rows.set(sessionUidKey(sessionUid), found.session);
    if (found.account) this.rows.set(accountKey(found.account.id), found.account);
  }

  takeModel(key: string): Found | undefined {
    return this.take(key) as Found | undefined;
  }

  takeClient(clientId: string): OAuthClientRow | undefined {
    return this.take(clientKey(clientId)) as OAuthClientRow | undefined;
  }

  takeAccount(userId: string): AccountFacts | undefined {
    return this.take(accountKey(userId)) as AccountFacts | undefined;
  }

  /** A provider row was written: what was read ahead of it is no longer what is stored. */
  forget(key: string): void {
    this.rows.delete(key);
  }

  /** A grant was revoked (its rows deleted): every provider row read ahead goes. */
  forgetModels(): void {
    for (const key of this.rows.keys()) if (key.startsWith('model:') || key.startsWith('uid:')) this.rows.delete(key);
  }

  private take(key: string): unknown {
    const row = this.rows.get(key);
    this.rows.delete(key);
    return row;
  }
}

const byRequest = new WeakMap<object, RequestReads>();

/** The memo of the request `ctx` (oidc-provider's request context), made on first use. */
export function readsOf(ctx: object | undefined): RequestReads | undefined {
  if (!ctx) return undefined;
  let reads = byRequest.get(ctx);
  if (!reads) byRequest.set(ctx, (reads = new RequestReads()));
  return reads;
}

/** The memo of the request `ctx` if anything was read ahead in it (most requests read nothing ahead). */
export function existingReadsOf(ctx: object | undefined): RequestReads | undefined {
  return ctx && byRequest.get(ctx);
}
